// GET /api/events: the desktops' events (started, checkpointing, checkpointed, restoring, …) as Server-Sent Events.
// ?desktop=<id>: that desktop's only, and, in a fleet, while it runs on another host, its owner's events of it
// relayed by this host (event `remote` says from which host and whether that link is live).
import { respond } from '@/server/api/http';
import { subscribe } from '@/server/api/eventHub';
import { eventStream } from '@/server/api/eventStream';
import { eventView, relayedEventView } from '@/server/api/redact';
import { watchRemote } from '@/server/api/relayedEvents';
import { isDesktopId } from '@/lib/ids';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  const desktop = new URL(request.url).searchParams.get('desktop');
  if (desktop !== null && !isDesktopId(desktop)) {
    return respond({ ok: false, status: 400, error: { code: 'invalid', message: 'invalid desktop: not a desktop id' } });
  }
  return eventStream(request, (send) => {
    const local = subscribe((event) => {
      if (desktop === null || event.desktop.id === desktop) send('desktop', { ...eventView(event), at: new Date().toISOString() });
    });
    const remote = desktop === null ? () => {} : watchRemote(request, desktop, `/api/events?desktop=${desktop}`, {
      onMessage: ({ event, data }) => {
        if (event === 'desktop') send('desktop', relayedEventView(data));
      },
      onLink: (link) => send('remote', link),
    });
    return () => {
      local();
      remote();
    };
  });
}
