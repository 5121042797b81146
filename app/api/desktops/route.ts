// GET /api/desktops: every desktop; POST /api/desktops {geometry?, apps?}: start one (201).
import { respond, jsonBody } from '@/server/api/http';
import { listDesktops, startDesktop } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function GET() {
  return respond(await listDesktops());
}

export async function POST(request: Request) {
  const body = await jsonBody(request);
  if (!body.ok) return respond(body);
  return respond(await startDesktop(body.body), 201);
}
