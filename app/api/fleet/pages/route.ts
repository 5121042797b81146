// POST /api/fleet/pages, for the fleet's hosts only: a `criu page-server` for one move's dump (method page-server);
// 201 {transfer, address, port}. The source dumps to it, then sends the rest with X-Freezeframe-Pages: <transfer>.
import { respond } from '@/server/api/http';
import { fromFleet, notFromFleet, openPageServer } from '@/server/api/fleetOperations';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function POST(request: Request) {
  if (!fromFleet(request.headers.get('authorization'))) return respond(notFromFleet());
  return respond(await openPageServer(), 201);
}
