// A desktop's screen as a small PNG, read over VNC like any viewer would, just before its checkpoint.
import 'server-only';
import { writeFile } from 'node:fs/promises';
import { encodePng, scaleDown } from './png';
import { RfbClient } from './rfbClient';

export const thumbnailWidth = 320;

export async function writeThumbnail(vncPort: number, password: string | undefined, file: string, timeoutMs = 3_000): Promise<void> {
  const client = await RfbClient.connect(vncPort, { autoRequest: false, keepPixels: true, password });
  try {
    const pixels = await client.capture(timeoutMs);
    const small = scaleDown(client.width, client.height, pixels, thumbnailWidth, 'bgrx');
    await writeFile(file, encodePng(small.width, small.height, small.pixels));
  } finally {
    await client.closeGracefully();
  }
}
