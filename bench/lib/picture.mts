// Whether an app's picture changes (by itself, or after a key): its window's part of the screen, read over VNC.
import type { RfbClient } from '../../server/vnc/rfbClient';
import { connectRfb, type VncTarget } from '../../server/vnc/target';
import type { Region } from '../../test/support/windows';

/** FNV-1a over the region's pixels of a B, G, R, X frame `width` pixels wide. */
function regionHash(pixels: Buffer, width: number, height: number, r: Region): number {
  let hash = 0x811c9dc5;
  for (let y = Math.max(0, r.y); y < Math.min(height, r.y + r.height); y++) {
    for (let x = Math.max(0, r.x); x < Math.min(width, r.x + r.width); x++) hash = Math.imul(hash ^ pixels.readUInt32LE((y * width + x) * 4), 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Reads the region, does `act` (a key, a click) if given, then reads it again until it differs; returns how long
 * that took, or throws after timeoutMs. The connection is closed on both sides before it returns: a desktop about
 * to be dumped must hold no connection of ours.
 */
export async function pictureChanges(
  target: VncTarget, password: string, region: Region, act?: (client: RfbClient) => void, timeoutMs = 15_000,
): Promise<number> {
  const client = await connectRfb(target, { autoRequest: false, keepPixels: true, password });
  try {
    const hash = () => regionHash(client.pixels!, client.width, client.height, region);
    await client.capture(5_000);
    const before = hash();
    const t0 = performance.now();
    act?.(client);
    // Incremental updates: Xvnc answers once something changed (the region, or the taskbar's clock), not before.
    for (;;) {
      const left = timeoutMs - (performance.now() - t0);
      if (left <= 0) throw new Error(`its picture did not change within ${timeoutMs} ms`);
      const next = client.nextUpdate(left);
      client.requestUpdate(true);
      await next.catch(() => {
        throw new Error(`its picture did not change within ${timeoutMs} ms`);
      });
      if (hash() !== before) return performance.now() - t0;
    }
  } finally {
    await client.closeGracefully();
  }
}

/** A left click at x, y through VNC, like a viewer's; closed on both sides before it returns. */
export async function clickAt(target: VncTarget, password: string, x: number, y: number): Promise<void> {
  const client = await connectRfb(target, { autoRequest: false, password });
  try {
    client.click(x, y);
  } finally {
    await client.closeGracefully();
  }
}
