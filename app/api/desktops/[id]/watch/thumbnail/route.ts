// GET /api/desktops/:id/watch/thumbnail: while the desktop is frozen, the screen just before its dump (320 px PNG),
// for a viewer that arrives during the freeze and so has no picture of its own; 404 otherwise.
import { readFile } from 'node:fs/promises';
import { respond } from '@/server/api/http';
import { frozenThumbnail } from '@/server/api/watch';

export const runtime = 'nodejs';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const result = await frozenThumbnail((await params).id);
  if (!result.ok) return respond(result);
  // The address stays the same from one freeze to the next: never cached.
  return new Response(new Uint8Array(await readFile(result.file)), { headers: { 'Content-Type': 'image/png', 'Cache-Control': 'no-store' } });
}
