// GET /api/desktops/:id/watch: what the audience link shows of a desktop (state, freeze, view-only VNC password).
import { respond } from '@/server/api/http';
import { getWatchView } from '@/server/api/watch';

export const runtime = 'nodejs';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return respond(await getWatchView((await params).id));
}
