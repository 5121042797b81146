// GET /api/fleet: {fleet: {self, fresh, readAt?, error?, hosts, desktops, checkpoints}, relayedStreams}: the fleet as
// this host last read it from etcd (no secret in it), and how many of other hosts' event streams it relays to its
// pages now; 404 on a single host (FREEZEFRAME_ETCD unset).
import { respond } from '@/server/api/http';
import { fleetSnapshot } from '@/server/api/operations';
import { relayedStreams } from '@/server/api/relayedEvents';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET() {
  const result = await fleetSnapshot();
  return respond(result.ok ? { ...result, relayedStreams: relayedStreams() } : result);
}
