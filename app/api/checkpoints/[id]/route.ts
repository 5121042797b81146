// GET /api/checkpoints/:id: the checkpoint, its restores, and the tails of their criu logs.
import { respond } from '@/server/api/http';
import { getCheckpoint } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return respond(await getCheckpoint((await params).id));
}
