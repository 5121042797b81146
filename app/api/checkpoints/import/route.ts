// POST /api/checkpoints/import, body: an archive from GET /api/checkpoints/:id/export (raw, application/zstd; an older .tar.gz as application/gzip).
// 201 {checkpoint, desktop}: the checkpoint, and its desktop (created stopped if this machine did not have it).
import { respond } from '@/server/api/http';
import { importCheckpoint } from '@/server/api/operations';
import { receiveUpload } from '@/server/api/transfer';
import { maxArchiveBytes } from '@/server/checkpoints/archive';

export const runtime = 'nodejs';

export async function POST(request: Request) {
  const upload = await receiveUpload(request, maxArchiveBytes);
  if (!upload.ok) return respond(upload);
  return respond(await importCheckpoint(upload.file), 201);
}
