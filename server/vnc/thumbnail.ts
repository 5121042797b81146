// A desktop's screen as a small PNG, read over VNC like any viewer would, just before its checkpoint.
// Split in two so a dump waits only for the pixels: scaling and encoding run while criu works.
import 'server-only';
import { writeFile } from 'node:fs/promises';
import { encodePngAsync, scaleDown } from './png';
import { connectRfb, type VncTarget } from './target';

export const thumbnailWidth = 320;

export interface Screen {
  width: number;
  height: number;
  /** B, G, R, X bytes, as a 32-bit little-endian VNC framebuffer holds them. */
  pixels: Buffer;
}

/** The whole screen; once this resolves our VNC connection is closed on both sides (nothing of ours is dumped). */
export async function captureScreen(target: VncTarget | number, password: string | undefined, timeoutMs = 3_000): Promise<Screen> {
  const client = await connectRfb(typeof target === 'number' ? { port: target } : target, { autoRequest: false, keepPixels: true, password, timeoutMs });
  try {
    const pixels = await client.capture(timeoutMs);
    return { width: client.width, height: client.height, pixels };
  } finally {
    await client.closeGracefully();
  }
}

/**
 * The screen scaled to thumbnailWidth and written as PNG (deflate runs on libuv's thread pool). Starts on the next
 * turn of the event loop, so that the caller (a dump) first gets criu going: scaling takes a few milliseconds.
 */
export async function writeThumbnailOf(screen: Screen, file: string): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const small = scaleDown(screen.width, screen.height, screen.pixels, thumbnailWidth, 'bgrx');
  await writeFile(file, await encodePngAsync(small.width, small.height, small.pixels));
}

export async function writeThumbnail(target: VncTarget | number, password: string | undefined, file: string, timeoutMs = 3_000): Promise<void> {
  await writeThumbnailOf(await captureScreen(target, password, timeoutMs), file);
}
