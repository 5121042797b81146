// POST /api/desktops/:id/stop: stop the desktop (its checkpoints stay).
import { jsonBody, respond } from '@/server/api/http';
import { stopDesktop } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  // No options, but the same rule as every JSON endpoint: a form post is refused (415), not obeyed.
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await stopDesktop((await params).id));
}
