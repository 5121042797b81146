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
 * Scales down to at most maxWidth wide; the output is RGBA. Each output pixel is the mean of the pixels it covers
 * when it covers at most 2 x 2, else the mean of 2 x 2 of them spread over its box (at a quarter and three quarters
 * of it, each way): a thumbnail does not need every pixel of a screen read. It runs while criu dumps, on 2 cores:
 * the full box filter took 7-13 ms for 1024x768 (10 ms for 1920x1080) here and slowed criu's dump by about as much
 * (bench/results/overhead.md); this reads at most 4 pixels per output pixel whatever the screen's size.
 * The input is RGBA, or BGRX as a 32-bit little-endian VNC framebuffer holds it (read without converting).
 */
export function scaleDown(width: number, height: number, pixels: Uint8Array, maxWidth: number, format: 'rgba' | 'bgrx' = 'rgba') {
  const [r, g, b] = format === 'rgba' ? [0, 1, 2] : [2, 1, 0];
  const w = Math.min(width, maxWidth);
  const h = width <= maxWidth ? height : Math.max(1, Math.round((height * maxWidth) / width));
  // The input columns (rows) an output column (row) takes: its whole span [start, end) when at most 2 wide, else
  // two of it. At least one pixel each.
  const samples = (n: number, total: number) => {
    const first = new Int32Array(n);
    const second = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const start = Math.floor((i * total) / n);
      const span = Math.max(Math.floor(((i + 1) * total) / n), start + 1) - start;
      first[i] = span <= 2 ? start : start + (span >> 2);
      second[i] = span === 1 ? -1 : span === 2 ? start + 1 : start + ((3 * span) >> 2);
    }
    return { first, second };
  };
  const cols = samples(w, width);
  const rows = samples(h, height);
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    const ys0 = rows.first[y];
    const ys1 = rows.second[y];
    for (let x = 0; x < w; x++) {
      const xs0 = cols.first[x];
      const xs1 = cols.second[x];
      let sr = 0, sg = 0, sb = 0, n = 0;
      for (let k = 0; k < 2; k++) {
        const sy = k === 0 ? ys0 : ys1;
        if (sy < 0) continue;
        for (let m = 0; m < 2; m++) {
          const sx = m === 0 ? xs0 : xs1;
          if (sx < 0) continue;
          const i = (sy * width + sx) * 4;
          sr += pixels[i + r];
          sg += pixels[i + g];
          sb += pixels[i + b];
          n++;
        }
      }
      const o = (y * w + x) * 4;
      out[o] = Math.round(sr / n);
      out[o + 1] = Math.round(sg / n);
      out[o + 2] = Math.round(sb / n);
      out[o + 3] = 255;
    }
  }
  return { width: w, height: h, pixels: out };
}
