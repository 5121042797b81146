// GET /api/checkpoints/:id: the checkpoint, its restores and the tails of their criu logs.
// DELETE /api/checkpoints/:id: delete its images and record; answers with the bytes freed.
import { jsonBody, respond } from '@/server/api/http';
import { deleteCheckpoint, getCheckpoint } from '@/server/api/operations';

export const runtime = 'nodejs';

type Context = { params: Promise<{ id: string }> };

export async function GET(_request: Request, { params }: Context) {
  return respond(await getCheckpoint((await params).id));
}

export async function DELETE(request: Request, { params }: Context) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await deleteCheckpoint((await params).id));
}
