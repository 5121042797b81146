// POST /api/checkpoints/:id/restore: criu restore of the checkpoint; its desktop must not be running.
import { respond } from '@/server/api/http';
import { restoreCheckpoint } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function POST(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return respond(await restoreCheckpoint((await params).id));
}
