// GET /api/checkpoints/:id/export: the checkpoint as one <id>.tar.zst download (zstd) (import it with POST /api/checkpoints/import).
import { respond } from '@/server/api/http';
import { exportCheckpoint } from '@/server/api/operations';
import { streamAndDelete } from '@/server/api/transfer';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const result = await exportCheckpoint((await params).id);
  if (!result.ok) return respond(result);
  return streamAndDelete(result.file, {
    'Content-Type': 'application/zstd',
    'Content-Disposition': `attachment; filename="${result.checkpoint}.tar.zst"`,
    'Cache-Control': 'no-store',
  });
}
