// Archives in and out over HTTP: an upload streamed to a temp file under a size limit, a temp file streamed back.
import 'server-only';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { getEngine } from '../engineHandle';
import type { Failure } from './results';

/**
 * Temp files live in the state folder, on the same disk as the images: /tmp may be a small tmpfs, and an archive
 * is about as large as the checkpoint it holds.
 */
export async function tempFile(suffix: string): Promise<string> {
  const dir = path.join(getEngine().config.stateDir, 'transfers');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, `${Date.now()}-${randomBytes(4).toString('hex')}${suffix}`);
}

// zstd: what export writes; gzip: archives exported before.
const archiveTypes = /^application\/((x-)?gzip|zstd)\s*(;|$)/i;

const tooLarge = (limit: number): Failure => ({
  ok: false,
  status: 413,
  error: { code: 'too_large', message: `the archive is larger than ${limit} bytes` },
});

/**
 * Writes the request's body to a new temp file, refusing (413) a body larger than limit: by its Content-Length
 * before a byte is read, and by counting while streaming, since a chunked upload has no length. Nothing is left on
 * disk on failure. multipart/form-data is refused: its parsing would buffer, and a raw body is all a browser's fetch
 * or `curl --data-binary @file` need.
 */
export async function receiveUpload(request: Request, limit: number): Promise<{ ok: true; file: string; bytes: number } | Failure> {
  const type = request.headers.get('content-type') ?? '';
  // Only the archive's own types: a form post or a text/plain fetch from another site's page needs no CORS
  // preflight, application/zstd and application/gzip do.
  if (!archiveTypes.test(type)) {
    const multipart = /^multipart\//i.test(type);
    return {
      ok: false,
      status: 415,
      error: {
        code: 'unsupported_media_type',
        message: multipart
          ? 'send the archive itself as the body (application/zstd, or application/gzip for an older .tar.gz), not as multipart/form-data'
          : `send the archive as application/zstd (Content-Type: application/zstd; an older .tar.gz as application/gzip), not ${type || 'without a type'}`,
      },
    };
  }
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) return tooLarge(limit);
  if (!request.body) return { ok: false, status: 400, error: { code: 'invalid', message: 'the body is empty: send the .tar.zst archive' } };
  const file = await tempFile('.upload.tar');
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(bytes > limit ? new RangeError('too large') : null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(request.body as import('node:stream/web').ReadableStream), counter, createWriteStream(file, { mode: 0o600 }));
  } catch (error) {
    await rm(file, { force: true });
    if (error instanceof RangeError) return tooLarge(limit);
    return { ok: false, status: 400, error: { code: 'invalid', message: `the upload broke off: ${(error as Error).message}` } };
  }
  if (bytes === 0) {
    await rm(file, { force: true });
    return { ok: false, status: 400, error: { code: 'invalid', message: 'the body is empty: send the .tar.zst archive' } };
  }
  return { ok: true, file, bytes };
}

/**
 * A temp file as a response body, deleted at once: the open descriptor keeps its data readable until the stream
 * ends, and nothing is left behind however the download ends (finished, aborted, never read).
 */
export async function streamAndDelete(file: string, headers: Record<string, string>): Promise<Response> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    await unlink(file);
    const body = Readable.toWeb(handle.createReadStream()) as ReadableStream<Uint8Array>;
    return new Response(body, { headers: { ...headers, 'Content-Length': String(size) } });
  } catch (error) {
    await handle.close();
    await rm(file, { force: true });
    throw error;
  }
}
