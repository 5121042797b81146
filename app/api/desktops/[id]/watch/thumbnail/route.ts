// GET /api/desktops/:id/watch/thumbnail: while the desktop is frozen, the screen just before its dump (320 px PNG),
// for a viewer that arrives during the freeze and so has no picture of its own; 404 otherwise.
import { readFile } from 'node:fs/promises';
import { respond } from '@/server/api/http';
import { desktopFileElsewhere } from '@/server/api/remoteFiles';
import { isDesktopId } from '@/lib/ids';
import { frozenThumbnail } from '@/server/api/watch';

export const runtime = 'nodejs';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const id = (await params).id;
  const result = await frozenThumbnail(id);
  if (!result.ok) {
    // A desktop on another host (an audience link of this host): the picture of its freeze from there.
    const elsewhere = result.status === 404 && isDesktopId(id) ? await desktopFileElsewhere(id, `/api/desktops/${id}/watch/thumbnail`) : undefined;
    return elsewhere ?? respond(result);
  }
  // The address stays the same from one freeze to the next: never cached.
  return new Response(new Uint8Array(await readFile(result.file)), { headers: { 'Content-Type': 'image/png', 'Cache-Control': 'no-store' } });
}
