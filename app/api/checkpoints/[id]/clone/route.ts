// POST /api/checkpoints/:id/clone {count?}: count new desktops restored from the checkpoint at once (201), each
// independent (own id, viewer, checkpoints); those that failed are listed with their reason, the others run.
import { jsonBody, respond } from '@/server/api/http';
import { cloneCheckpoint } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await cloneCheckpoint((await params).id, body.body), 201);
}
