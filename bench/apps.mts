// The app catalog under repeated checkpoints: per preset, one desktop with only that app, N consecutive
// checkpoint/restore cycles, the app's processes checked back after each; dump and restore medians, image sizes.
// usage: node --import tsx --import ./server/runtime/register.js bench/apps.mts [--apps=writer,firefox] [--cycles=5]
//        [--displays=80-95] [--out=apps]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine } from '../server/engine';
import { appPresets } from '../lib/presets';
import { treePids } from '../server/desktops/processes';
import { eventually } from '../test/support/eventually';
import { arg, fmt, header, LoadLog, median, numArg, table, writeResults } from './lib/common.mts';
import { appSigns, windows } from './lib/appSigns.mts';


const apps = arg('apps', Object.keys(appPresets).join(',')).split(',');
const cycles = numArg('cycles', 5);
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-apps-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: arg('displays', '80-95') });
const { desktops } = engine;
const loads = new LoadLog();

const comms = async (pid: number) =>
  Promise.all((await treePids(pid)).map((p) => readFile(`/proc/${p}/comm`, 'utf8').then((c) => c.trim(), () => '')));

interface AppResult {
  app: string;
  startMs: number;
  processes: number;
  dumpMs: number[];
  restoreMs: number[];
  imageMB: number[];
  failure?: string;
}
const results: AppResult[] = [];
loads.note('start');
try {
  for (const app of apps) {
    const sign = appSigns[app];
    if (!sign) throw new Error(`no signs known for app ${app}`);
    const r: AppResult = { app, startMs: 0, processes: 0, dumpMs: [], restoreMs: [], imageMB: [] };
    results.push(r);
    const t0 = performance.now();
    const desktop = await desktops.start({ geometry: '1024x768', apps: [app] });
    try {
      await eventually(async () => {
        if (!sign.window.test(await windows(desktop.display))) throw new Error(`${app}: no window yet`);
      }, 90_000);
      r.startMs = performance.now() - t0;
      r.processes = (await comms(desktop.pid!)).length;
      for (let n = 1; n <= cycles; n++) {
        const { checkpoint } = await desktops.checkpoint(desktop.id);
        const restored = await desktops.restore(checkpoint.id);
        r.dumpMs.push(checkpoint.dumpMs!);
        r.restoreMs.push(restored.restoreMs);
        r.imageMB.push(checkpoint.imageBytes! / 1e6);
        const back = await comms(restored.desktop.pid!);
        if (!back.some((c) => sign.comm.test(c))) throw new Error(`${app}: cycle ${n}: the app is not back (${back.join(', ')})`);
        if (!sign.window.test(await windows(desktop.display))) throw new Error(`${app}: cycle ${n}: its window is gone`);
        console.log(`${app} cycle ${n}: dump ${fmt(checkpoint.dumpMs!, 0)} ms, ${fmt(checkpoint.imageBytes! / 1e6)} MB, restore ${fmt(restored.restoreMs, 0)} ms`);
        await desktops.deleteCheckpoint(checkpoint.id);
      }
    } catch (error) {
      r.failure = (error as Error).message;
      console.error(`${app}: FAILED: ${r.failure}`);
    } finally {
      await desktops.stop(desktop.id).catch(() => {});
    }
    loads.note(`after ${app}`);
  }
  const rows = results.map((r) => [
    `\`${r.app}\``,
    `${r.dumpMs.length} / ${cycles}${r.failure ? ` (${r.failure})` : ''}`,
    r.processes,
    fmt(r.startMs / 1000, 1),
    `${fmt(median(r.dumpMs), 0)} (${fmt(Math.min(...r.dumpMs), 0)}–${fmt(Math.max(...r.dumpMs), 0)})`,
    `${fmt(median(r.restoreMs), 0)} (${fmt(Math.min(...r.restoreMs), 0)}–${fmt(Math.max(...r.restoreMs), 0)})`,
    fmt(median(r.imageMB), 0),
  ]);
  const markdown = [
    header('App catalog: consecutive checkpoint/restore cycles per preset', `Each preset alone on a 1024x768 desktop (with icewm), ${cycles} consecutive checkpoint + restore cycles through the engine; after each restore the app's process and window must be back.`, loads),
    table(['preset', 'cycles ok', 'processes', 'start to window (s)', 'dump ms median (min–max)', 'restore ms median (min–max)', 'image MB median'], rows),
    '',
    loads.markdown(),
    '',
  ].join('\n');
  writeResults('apps', markdown, undefined, results);
  console.log(markdown);
  process.exitCode = results.some((r) => r.failure) ? 1 : 0;
} finally {
  for (const d of await desktops.list()) if (d.state !== 'stopped') await desktops.stop(d.id).catch(() => {});
  await rm(stateDir, { recursive: true, force: true });
}
