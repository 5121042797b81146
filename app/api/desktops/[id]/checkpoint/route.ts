// POST /api/desktops/:id/checkpoint {leaveRunning?}: criu dump of the whole desktop (201: a new checkpoint).
import { jsonBody, respond } from '@/server/api/http';
import { checkpointDesktop } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await checkpointDesktop((await params).id, body.body, { replyFirst: true }), 201);
}
