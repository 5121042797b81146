// GET /api/desktops/:id/watch/events: that desktop's watch view after each of its events (Server-Sent Events), for
// the audience page: no other desktop, no control password.
import { respond } from '@/server/api/http';
import { eventStream } from '@/server/api/eventStream';
import { getWatchView, subscribeWatch } from '@/server/api/watch';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const id = (await params).id;
  // An unknown desktop is a 404 now, not a stream that stays silent.
  const current = await getWatchView(id);
  if (!current.ok) return respond(current);
  return eventStream(request, (send) => subscribeWatch(id, (desktop, type) => send('watch', { type, desktop, at: new Date().toISOString() })));
}
