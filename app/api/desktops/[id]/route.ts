// GET /api/desktops/:id: the desktop, its checkpoints, and the tail of its latest criu log.
// DELETE /api/desktops/:id: remove a stopped desktop with its checkpoints; answers with the bytes freed.
import { jsonBody, respond } from '@/server/api/http';
import { getDesktop, removeDesktop } from '@/server/api/operations';

export const runtime = 'nodejs';

type Context = { params: Promise<{ id: string }> };

export async function GET(_request: Request, { params }: Context) {
  return respond(await getDesktop((await params).id));
}

export async function DELETE(request: Request, { params }: Context) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await removeDesktop((await params).id));
}
