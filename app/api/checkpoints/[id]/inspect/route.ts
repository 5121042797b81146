// GET /api/checkpoints/:id/inspect: what the images hold: {processes: […], sockets: […]} (see server/checkpoints/inspect.ts).
import { respond } from '@/server/api/http';
import { inspectCheckpoint } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  return respond(await inspectCheckpoint((await params).id));
}
