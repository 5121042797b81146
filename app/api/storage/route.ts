// GET /api/storage: {storage: {checkpointBytes, checkpoints, freeBytes, totalBytes, stateDir}}.
import { respond } from '@/server/api/http';
import { getStorage } from '@/server/api/operations';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET() {
  return respond(await getStorage());
}
