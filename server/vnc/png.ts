// PNG encoding and box-filter downscaling of RGBA pixels, for checkpoint thumbnails (no image library needed).
import { promisify } from 'node:util';
import { crc32, deflate, deflateSync } from 'node:zlib';

const deflateAsync = promisify(deflate);

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** The image's rows, each led by its filter type (0: none), as IDAT compresses them. */
function rows(width: number, height: number, rgba: Uint8Array): Buffer {
  if (rgba.length !== width * height * 4) throw new RangeError('pixel buffer does not match the size');
  const out = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) out.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  return out;
}

function png(width: number, height: number, idat: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  return png(width, height, deflateSync(rows(width, height, rgba)));
}

/** encodePng with the deflate off the event loop (a checkpoint encodes while criu runs). */
export async function encodePngAsync(width: number, height: number, rgba: Uint8Array): Promise<Buffer> {
  return png(width, height, await deflateAsync(rows(width, height, rgba)));
}

/**
 * Scales down to at most maxWidth wide, each output pixel the mean of the pixels it covers; the output is RGBA.
 * The input is RGBA, or BGRX as a 32-bit little-endian VNC framebuffer holds it (read without converting).
 */
export function scaleDown(width: number, height: number, pixels: Uint8Array, maxWidth: number, format: 'rgba' | 'bgrx' = 'rgba') {
  const [r, g, b] = format === 'rgba' ? [0, 1, 2] : [2, 1, 0];
  const w = Math.min(width, maxWidth);
  const h = width <= maxWidth ? height : Math.max(1, Math.round((height * maxWidth) / width));
  // Each output column and row covers [start, end) of the input, at least one pixel.
  const span = (n: number, of: number, total: number) => {
    const starts = new Int32Array(n + 1);
    for (let i = 0; i <= n; i++) starts[i] = Math.floor((i * total) / of);
    return (i: number) => [starts[i], Math.max(starts[i + 1], starts[i] + 1)] as const;
  };
  const cols = span(w, w, width);
  const rows = span(h, h, height);
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    const [y0, y1] = rows(y);
    for (let x = 0; x < w; x++) {
      const [x0, x1] = cols(x);
      let sr = 0, sg = 0, sb = 0;
      for (let sy = y0; sy < y1; sy++) {
        for (let i = (sy * width + x0) * 4, end = (sy * width + x1) * 4; i < end; i += 4) {
          sr += pixels[i + r];
          sg += pixels[i + g];
          sb += pixels[i + b];
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * w + x) * 4;
      out[o] = Math.round(sr / n);
      out[o + 1] = Math.round(sg / n);
      out[o + 2] = Math.round(sb / n);
      out[o + 3] = 255;
    }
  }
  return { width: w, height: h, pixels: out };
}
