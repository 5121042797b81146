// The target of a move, for the fleet's hosts only (Authorization: Bearer <fleet key>).
// GET: {host}, what a source checks before it freezes anything. POST, body: the desktop's signed archive
// (application/zstd): imported, judged and restored here; 201 {desktop, checkpoint, host, restoreMs} once it runs.
import { respond } from '@/server/api/http';
import { fromFleet, notFromFleet, receiveMove, receiverReady } from '@/server/api/fleetOperations';
import { receiveUpload } from '@/server/api/transfer';
import { maxArchiveBytes } from '@/server/checkpoints/archive';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request: Request) {
  if (!fromFleet(request.headers.get('authorization'))) return respond(notFromFleet());
  return respond(receiverReady());
}

export async function POST(request: Request) {
  if (!fromFleet(request.headers.get('authorization'))) return respond(notFromFleet());
  const upload = await receiveUpload(request, maxArchiveBytes);
  if (!upload.ok) return respond(upload);
  // Once the archive is here, the restore goes on whatever becomes of the source (its death included).
  const lazy = request.headers.get('x-freezeframe-lazy');
  return respond(await receiveMove(upload.file, request.headers.get('x-freezeframe-pages') ?? undefined, lazy === null ? undefined : { from: request.headers.get('x-freezeframe-from') ?? undefined, port: lazy }), 201);
}
