// A checkpoint's thumbnail is the screen as it was when the checkpoint was asked, with the screens kept by the server
// (vnc/screenKeeper.ts) as main.ts keeps them: a change a viewer saw just before is in it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import type { Engine } from '../server/engine';
import type { RfbClient } from '../server/vnc/rfbClient';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';
import { clickAt, connectViewer, typeLine } from './support/viewer';

/** xterm's background, set by its shell (OSC 11): the whole window, about half of a 640x480 screen, changes colour. */
const colours = [
  { name: 'red', hex: '#c03030', rgb: [0xc0, 0x30, 0x30] },
  { name: 'green', hex: '#30a030', rgb: [0x30, 0xa0, 0x30] },
  { name: 'blue', hex: '#3050c0', rgb: [0x30, 0x50, 0xc0] },
] as const;

/** The share of pixels within a few levels of rgb; offsets: where red, green and blue sit in each 4-byte pixel. */
function share(pixels: Uint8Array, rgb: readonly number[], [r, g, b]: [number, number, number]): number {
  let near = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (Math.abs(pixels[i + r] - rgb[0]) < 24 && Math.abs(pixels[i + g] - rgb[1]) < 24 && Math.abs(pixels[i + b] - rgb[2]) < 24) near++;
  }
  return near / (pixels.length / 4);
}

/** The RGBA pixels of a thumbnail, as server/vnc/png.ts writes them (one IDAT stream, every row of filter type 0). */
function decodeThumbnail(png: Buffer): Uint8Array {
  assert.equal(png.subarray(1, 4).toString(), 'PNG', 'a PNG');
  const width = png.readUInt32BE(16);
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rowBytes = width * 4 + 1;
  const out = Buffer.alloc((raw.length / rowBytes) * width * 4);
  for (let y = 0; y * rowBytes < raw.length; y++) {
    assert.equal(raw[y * rowBytes], 0, 'filter type 0');
    raw.copy(out, y * width * 4, y * rowBytes + 1, (y + 1) * rowBytes);
  }
  return out;
}

/** Resolves at the first update after which the viewer's screen has more than `over` of rgb; rejects after ms. */
function untilColour(viewer: RfbClient, rgb: readonly number[], over: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (share(viewer.pixels!, rgb, [2, 1, 0]) <= over) return;
      clearTimeout(timer);
      viewer.off('update', check);
      resolve();
    };
    const timer = setTimeout(() => {
      viewer.off('update', check);
      reject(new Error(`the screen did not turn ${rgb} within ${ms} ms`));
    }, ms);
    viewer.on('update', check);
  });
}

/** Xvnc's established TCP connections (state 01) by its local port, in the network namespace of the tree's pid. */
async function connectionsTo(pid: number, port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = (await readFile(`/proc/${pid}/net/tcp`, 'utf8')).split('\n').slice(1);
  return lines.filter((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1]?.endsWith(`:${hex}`) && fields[3] === '01';
  }).length;
}

let engine: Engine;
let dispose: () => Promise<void>;
before(async () => {
  ({ engine, dispose } = await withEngine('185-189'));
  // What the server does at its start (server/main.ts): from now on each running desktop's screen is kept.
  await engine.desktops.keepReady();
});
after(async () => dispose());

test('a snapshot taken the moment a viewer sees the screen change has that change in its thumbnail, three times', async () => {
  const { desktops } = engine;
  const desktop = await desktops.start({ geometry: '640x480', apps: ['xterm'] });
  const viewer = await connectViewer(desktops, desktop, { password: desktop.vncPassword, keepPixels: true });
  try {
    await viewer.nextUpdate(10_000);
    for (const colour of colours) {
      // The keeper's connection beside ours: it comes 300 ms after the desktop runs again (after each snapshot
      // too). Without it, the thumbnail is read afresh over VNC and this would test nothing of the kept screen.
      await eventually(async () => assert.equal(await connectionsTo(desktop.pid!, desktop.vncPort), 2, 'the viewer and the keeper are connected'));
      // Typed again until the colour shows: under load the first keys can reach xterm before its window takes them.
      for (let attempt = 1; ; attempt++) {
        const seen = untilColour(viewer, colour.rgb, 0.25, 8_000);
        clickAt(viewer, 200, 150);
        typeLine(viewer, `printf '\\033]11;${colour.hex}\\007'; clear`);
        try {
          await seen;
          break;
        } catch (error) {
          if (attempt === 3) throw error;
        }
      }
      // At once: the user saw the change and pressed Checkpoint. Answered as the server answers (replyFirst: the
      // thumbnail is written after the reply), and read the moment the reply is there, as a page asks for it: the
      // read waits for it.
      const { checkpoint } = await desktops.checkpoint(desktop.id, { leaveRunning: true, replyFirst: true });
      const file = await desktops.thumbnail(checkpoint.id);
      assert.ok(file, 'a thumbnail was made, and a read right after the reply finds it');
      await eventually(async () => assert.equal((await desktops.getCheckpoint(checkpoint.id)).thumbnail, true, 'the checkpoint records it'));
      const thumbnail = decodeThumbnail(await readFile(file));
      const onViewer = share(viewer.pixels!, colour.rgb, [2, 1, 0]);
      const onThumbnail = share(thumbnail, colour.rgb, [0, 1, 2]);
      assert.ok(onThumbnail > 0.25, `the ${colour.name} screen is in the thumbnail: ${(onThumbnail * 100).toFixed(1)}% ${colour.name} there, ${(onViewer * 100).toFixed(1)}% on the viewer`);
    }
  } finally {
    viewer.close();
  }
});
