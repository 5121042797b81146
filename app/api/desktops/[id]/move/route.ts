// POST /api/desktops/:id/move {host, method?: "copy"|"page-server"|"lazy"}: the running desktop moves to that host of
// the fleet (200: where it went, how long it was frozen, the bytes sent); on failure it runs here again.
import { jsonBody, respond } from '@/server/api/http';
import { moveDesktop } from '@/server/api/fleetOperations';

export const runtime = 'nodejs';

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await moveDesktop((await params).id, body.body));
}
