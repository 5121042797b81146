// PUT /api/checkpoints/:id/pin {pinned: boolean}: a pinned checkpoint is never removed by its desktop's retention
// policy; 200 {checkpoint}.
import { jsonBody, respond } from '@/server/api/http';
import { pinCheckpoint } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function PUT(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await pinCheckpoint((await params).id, body.body));
}
