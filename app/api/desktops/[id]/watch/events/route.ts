// GET /api/desktops/:id/watch/events: that desktop's watch view after each of its events (Server-Sent Events), for
// the audience page: no other desktop, no control password. A desktop on another host: its owner's stream of it,
// relayed by this host (event `remote` says from which host and whether that link is live).
import { respond } from '@/server/api/http';
import { eventStream } from '@/server/api/eventStream';
import { watchRemote } from '@/server/api/relayedEvents';
import { getWatchView, subscribeWatch } from '@/server/api/watch';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const id = (await params).id;
  // An unknown desktop is a 404 now, not a stream that stays silent.
  const current = await getWatchView(id);
  if (!current.ok) return respond(current);
  return eventStream(request, (send) => {
    const local = subscribeWatch(id, (desktop, type) => send('watch', { type, desktop, at: new Date().toISOString() }));
    const remote = watchRemote(request, id, `/api/desktops/${id}/watch/events`, {
      onMessage: ({ event, data }) => {
        if (event === 'watch') send('watch', data);
      },
      onLink: (link) => {
        send('remote', link);
        // Linked (again): what changed before the link opened, as the owner has it now.
        if (link.host && link.live) {
          void getWatchView(id).then((view) => {
            if (view.ok) send('watch', { type: 'relayed', desktop: view.desktop, at: new Date().toISOString() });
          });
        }
      },
    });
    return () => {
      local();
      remote();
    };
  });
}
