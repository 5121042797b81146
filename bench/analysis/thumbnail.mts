// Purpose: where the checkpoint's thumbnail time goes (connect, full-screen capture, scale + PNG, graceful close), vs one plain Raw frame.
//
// usage: node --import tsx --import ./server/runtime/register.js bench/analysis/thumbnail.mts [--runs=9] [--geometry=1024x768]
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RfbClient } from '../../server/vnc/rfbClient.ts';
import { encodePng, scaleDown } from '../../server/vnc/png.ts';
import { api, arg, fmt, median, numArg, startServer, table, withCleanup, type Server } from '../lib/common.mts';
import { Rfb, tcpTransport } from '../lib/rfb.mts';

const runs = numArg('runs', 9);
const geometry = arg('geometry', '1024x768');
let server: Server | undefined;

async function main() {
  server = await startServer({ port: numArg('port', 3305), displays: arg('displays', '80-95') });
  const d = (await api(server.url, 'POST', '/api/desktops', { geometry, apps: ['xterm'] })).body.desktop;
  const rows: Record<string, number[]> = { connect: [], capture: [], 'scale + png': [], 'close gracefully': [], total: [], 'baseline: streaming client, connect + 1 raw frame + close': [] };
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const c = await RfbClient.connect(d.vncPort, { autoRequest: false, keepPixels: true, password: d.vncPassword });
    const t1 = performance.now();
    const pixels = await c.capture(3000);
    const t2 = performance.now();
    const small = scaleDown(c.width, c.height, pixels, 320);
    await writeFile(path.join(tmpdir(), 'ff-bench-thumb.png'), encodePng(small.width, small.height, small.pixels));
    const t3 = performance.now();
    await c.closeGracefully();
    const t4 = performance.now();
    Object.entries({ connect: t1 - t0, capture: t2 - t1, 'scale + png': t3 - t2, 'close gracefully': t4 - t3, total: t4 - t0 }).forEach(([k, v]) => rows[k].push(v));
    const b0 = performance.now();
    const r = await Rfb.open(await tcpTransport(d.vncPort), d.vncPassword);
    const next = r.nextUpdate();
    r.request(false);
    await next;
    r.close();
    rows['baseline: streaming client, connect + 1 raw frame + close'].push(performance.now() - b0);
  }
  console.log(`writeThumbnail phases, ${geometry}, median of ${runs}:`);
  console.log(table(['phase', 'median ms'], Object.entries(rows).map(([k, v]) => [k, fmt(median(v))])));
}

await withCleanup(main, [async () => server?.stop()]);
