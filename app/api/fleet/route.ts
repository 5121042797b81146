// GET /api/fleet: {fleet: {self, fresh, readAt?, error?, hosts, desktops, checkpoints}}: the fleet as this host last
// read it from etcd (no secret in it); 404 on a single host (FREEZEFRAME_ETCD unset).
import { respond } from '@/server/api/http';
import { fleetSnapshot } from '@/server/api/operations';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET() {
  return respond(await fleetSnapshot());
}
