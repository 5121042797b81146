// GET /api/checkpoints/:id/thumbnail: the screen just before the dump, a 320 px wide PNG (404 if none was taken).
import { readFile } from 'node:fs/promises';
import { respond } from '@/server/api/http';
import { checkpointFileElsewhere } from '@/server/api/remoteFiles';
import { isCheckpointId } from '@/lib/ids';
import { checkpointThumbnail } from '@/server/api/operations';

export const runtime = 'nodejs';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const id = (await params).id;
  const result = await checkpointThumbnail(id);
  if (!result.ok) {
    // A checkpoint of another host (a remote desktop's timeline): its picture from there.
    const elsewhere = result.status === 404 && isCheckpointId(id) ? await checkpointFileElsewhere(id, `/api/checkpoints/${id}/thumbnail`) : undefined;
    return elsewhere ?? respond(result);
  }
  // A checkpoint's thumbnail never changes once taken (a new checkpoint has a new id): cache it for good.
  return new Response(new Uint8Array(await readFile(result.file)), {
    headers: { 'Content-Type': 'image/png', 'Cache-Control': 'private, max-age=31536000, immutable' },
  });
}
