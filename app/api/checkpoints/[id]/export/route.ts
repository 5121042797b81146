// GET /api/checkpoints/:id/export: the checkpoint as one <id>.tar.zst download (zstd) (import it with POST /api/checkpoints/import).
import { respond } from '@/server/api/http';
import { checkpointFileElsewhere } from '@/server/api/remoteFiles';
import { isCheckpointId } from '@/lib/ids';
import { exportCheckpoint } from '@/server/api/operations';
import { streamAndDelete } from '@/server/api/transfer';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const id = (await params).id;
  const result = await exportCheckpoint(id);
  if (!result.ok) {
    // A checkpoint of another host (a remote desktop's timeline): its archive, streamed from there.
    const elsewhere = result.status === 404 && isCheckpointId(id) ? await checkpointFileElsewhere(id, `/api/checkpoints/${id}/export`) : undefined;
    return elsewhere ?? respond(result);
  }
  return streamAndDelete(result.file, {
    'Content-Type': 'application/zstd',
    'Content-Disposition': `attachment; filename="${result.checkpoint}.tar.zst"`,
    'Cache-Control': 'no-store',
  });
}
