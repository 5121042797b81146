// GET /api/events: the desktops' events (started, checkpointing, checkpointed, restoring, …) as Server-Sent Events.
import { subscribe } from '@/server/api/eventHub';
import { eventStream } from '@/server/api/eventStream';
import { eventView } from '@/server/api/redact';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  return eventStream(request, (send) => subscribe((event) => send('desktop', { ...eventView(event), at: new Date().toISOString() })));
}
