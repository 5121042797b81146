// PUT /api/desktops/:id/retention {keepLast?, maxBytes?} (null or missing: no such limit): sets the desktop's
// retention policy and applies it now; 200 {desktop, removed, bytesFreed}.
import { jsonBody, respond } from '@/server/api/http';
import { setRetention } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function PUT(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await setRetention((await params).id, body.body));
}
