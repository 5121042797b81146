// POST /api/desktops/:id/stop: stop the desktop (its checkpoints stay).
import { respond } from '@/server/api/http';
import { stopDesktop } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function POST(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return respond(await stopDesktop((await params).id));
}
