// Purpose: dump/restore time and image size against screen geometry, apps, and criu log level (-v2 vs -v4, raw criu).
//
// usage: node --import tsx --import ./server/runtime/register.js bench/scaling.mts [--runs=5] [--port=3303]
//        [--displays=80-95] [--parts=geometry,apps,loglevel]
// Geometry and apps go through the HTTP API (times are the engine's criu wall times, dumpMs/restoreMs); the log
// levels through raw criu with the engine's flags (the engine takes only -v3/-v4), alternating, on one desktop.
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { api, arg, barChart, fmt, fmtRatio, header, load, LoadLog, median, numArg, startServer, table, withCleanup, writeResults, type Server } from './lib/common.mts';
import { engineCommands, RawDesktop } from './lib/raw.mts';
import { appsUp } from './lib/appSigns.mts';

const runs = numArg('runs', 5);
const port = numArg('port', 3303);
const displays = arg('displays', '80-95');
const parts = arg('parts', 'geometry,apps,loglevel').split(',');

const loads = new LoadLog();
let server: Server | undefined;
let raw: RawDesktop | undefined;

interface Variant {
  name: string;
  geometry: string;
  apps: string[];
  id?: string;
  dump: number[];
  restore: number[];
  bytes: number[];
  pagesWritten: number[];
  frozen: number[];
}

async function main() {
  loads.note('start');
  server = await startServer({ port, displays });
  const url = server.url;
  const sections: string[] = [];
  const charts: { name: string; bars: { label: string; value: number; note?: string }[] }[] = [];
  const json: Record<string, unknown> = {};

  // ---- geometry and apps, through the API, every variant once per round, order rotating ----
  const variants: Variant[] = [];
  if (parts.includes('geometry')) for (const g of ['800x600', '1280x720', '1920x1080']) variants.push({ name: `${g}, xterm`, geometry: g, apps: ['xterm'], dump: [], restore: [], bytes: [], pagesWritten: [], frozen: [] });
  if (parts.includes('apps')) {
    // The catalog's heavy apps (lib/presets.ts), each with what it needs to be checkpointable.
    for (const apps of [['xterm', 'xclock'], ['firefox'], ['writer']]) {
      variants.push({ name: `1280x720, ${apps.join(' + ')}`, geometry: '1280x720', apps, dump: [], restore: [], bytes: [], pagesWritten: [], frozen: [] });
    }
  }
  if (variants.length) {
    for (const v of variants) {
      const { desktop } = (await api(url, 'POST', '/api/desktops', { geometry: v.geometry, apps: v.apps })).body;
      v.id = desktop.id;
      // Dumped only once its apps are up (Firefox and Writer take seconds to start).
      await appsUp(desktop, v.apps);
    }
    for (const v of variants) await engineCommands(url, v.id!); // warm-up cycle, not counted
    loads.note('geometry/apps');
    for (let r = 0; r < runs; r++) {
      const order = variants.map((_, i) => variants[(i + r) % variants.length]);
      for (const v of order) {
        const cp = (await api(url, 'POST', `/api/desktops/${v.id}/checkpoint`)).body.checkpoint;
        await delay(200);
        const restored = (await api(url, 'POST', `/api/checkpoints/${cp.id}/restore`)).body;
        v.dump.push(cp.dumpMs);
        v.restore.push(restored.restoreMs);
        v.bytes.push(cp.imageBytes);
        v.pagesWritten.push(cp.dumpStats?.pagesWritten ?? NaN);
        v.frozen.push(cp.dumpStats?.frozenMs ?? NaN);
        await api(url, 'DELETE', `/api/checkpoints/${cp.id}`).catch(() => {});
        await delay(300);
      }
      console.log(`round ${r + 1}: ${variants.map((v) => `${v.name} dump ${fmt(v.dump.at(-1)!)} restore ${fmt(v.restore.at(-1)!)} ${fmt(v.bytes.at(-1)! / 1e6)} MB`).join('; ')} (load ${load()})`);
    }
    const base = variants[0];
    const m = (xs: number[]) => median(xs);
    sections.push(
      '## Geometry and apps (HTTP API; criu wall time as the engine measures it)',
      '',
      `Each variant is its own desktop; one checkpoint + restore per variant per round, ${runs} rounds, the order rotating each round; one warm-up cycle each not counted. Baseline: ${base.name}.`,
      '',
      table(['desktop', 'dump (ms)', 'vs base', 'restore (ms)', 'vs base', 'images (MB)', 'vs base', 'pages written', 'CRIU frozen (ms)'], variants.map((v) => [v.name, fmt(m(v.dump)), fmtRatio(m(v.dump), m(base.dump)), fmt(m(v.restore)), fmtRatio(m(v.restore), m(base.restore)), fmt(m(v.bytes) / 1e6, 2), fmtRatio(m(v.bytes), m(base.bytes)), fmt(m(v.pagesWritten), 0), fmt(m(v.frozen))])),
      '',
      'Firefox ESR (preset `firefox`: its sandboxes off, a local page with a running JavaScript counter) and LibreOffice Writer (preset `writer`) are measured like the others, on desktops of their own, each first dumped once its window shows (xwininfo), after one warm-up cycle.',
      '',
    );
    charts.push({ name: 'dump (ms)', bars: variants.map((v) => ({ label: v.name, value: m(v.dump) })) });
    charts.push({ name: 'restore (ms)', bars: variants.map((v) => ({ label: v.name, value: m(v.restore) })) });
    charts.push({ name: 'images (MB)', bars: variants.map((v) => ({ label: v.name, value: m(v.bytes) / 1e6 })) });
    json.variants = variants;
    for (const v of variants) await api(url, 'POST', `/api/desktops/${v.id}/stop`);
  }

  // ---- log level, raw criu on one desktop, alternating -v2 / -v4 ----
  if (parts.includes('loglevel')) {
    const d = (await api(url, 'POST', '/api/desktops', { geometry: '1024x768', apps: ['xterm'] })).body.desktop;
    await appsUp(d, ['xterm']);
    const templates = await engineCommands(url, d.id);
    const pid = (await api(url, 'GET', `/api/desktops/${d.id}`)).body.desktop.pid as number;
    raw = new RawDesktop(server.stateDir, d.id, pid, templates, path.join(server.stateDir, 'bench-raw'));
    await raw.dump(4);
    await raw.restore(4);
    loads.note('loglevel');
    const lv: Record<2 | 4, { dump: number[]; restore: number[]; dumpLog: number[]; restoreLog: number[] }> = {
      2: { dump: [], restore: [], dumpLog: [], restoreLog: [] },
      4: { dump: [], restore: [], dumpLog: [], restoreLog: [] },
    };
    for (let r = 0; r < runs; r++) {
      for (const level of (r % 2 ? [4, 2] : [2, 4]) as (2 | 4)[]) {
        lv[level].dump.push(await raw.dump(level));
        lv[level].dumpLog.push(raw.lastLogBytes);
        await delay(200);
        lv[level].restore.push(await raw.restore(level));
        lv[level].restoreLog.push(raw.lastLogBytes);
        raw.prune();
        await delay(300);
      }
      console.log(`round ${r + 1}: -v2 dump ${fmt(lv[2].dump.at(-1)!)} restore ${fmt(lv[2].restore.at(-1)!)}; -v4 dump ${fmt(lv[4].dump.at(-1)!)} restore ${fmt(lv[4].restore.at(-1)!)} (load ${load()})`);
    }
    const m = median;
    sections.push(
      '## criu log level (raw criu, -v2 vs -v4, same desktop, alternating)',
      '',
      `Desktop 1024x768, xterm; the engine's flags with only -vN changed; ${runs} cycles per level, the level order alternating each round. Baseline: -v2.`,
      '',
      table(['level', 'dump (ms)', 'vs -v2', 'restore (ms)', 'vs -v2', 'dump log (KB)', 'restore log (KB)'], ([2, 4] as const).map((l) => [`-v${l}`, fmt(m(lv[l].dump)), fmtRatio(m(lv[l].dump), m(lv[2].dump)), fmt(m(lv[l].restore)), fmtRatio(m(lv[l].restore), m(lv[2].restore)), fmt(m(lv[l].dumpLog) / 1024, 0), fmt(m(lv[l].restoreLog) / 1024, 0)])),
      '',
    );
    charts.push({ name: 'criu log level: dump / restore (ms)', bars: ([2, 4] as const).flatMap((l) => [{ label: `-v${l} dump`, value: m(lv[l].dump) }, { label: `-v${l} restore`, value: m(lv[l].restore) }]) });
    json.logLevels = lv;
  }
  loads.note('end');

  const md = [
    header('Scaling: dump/restore time and image size', 'How criu dump and restore of a whole desktop scale with the screen size, the apps, and criu\'s log level. Medians; ratios against the smallest variant measured in the same run.', loads),
    ...sections,
    loads.markdown(),
    '',
  ].join('\n');
  writeResults('scaling', md, barChart('Scaling (medians)', '', charts), { ...json, loads: loads.entries });
  console.log(md);
}

await withCleanup(main, [async () => raw?.end(), async () => server?.stop()]);
