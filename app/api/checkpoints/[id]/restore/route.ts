// POST /api/checkpoints/:id/restore {stopRunning?}: criu restore of the checkpoint. Its desktop must not be running,
// unless stopRunning asks to stop it first.
import { jsonBody, respond } from '@/server/api/http';
import { restoreCheckpoint } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await restoreCheckpoint((await params).id, body.body));
}
