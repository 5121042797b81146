// GET /api/desktops/:id: the desktop, its checkpoints, and the tail of its latest criu log.
import { respond } from '@/server/api/http';
import { getDesktop } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return respond(await getDesktop((await params).id));
}
