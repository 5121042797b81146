// The app catalog under repeated checkpoints: per preset, one desktop with only that app, N consecutive
// checkpoint/restore cycles, each proven: after every restore the desktop's processes are the ones the images hold,
// under the same PIDs (in its namespace; the app's own the same since its start), and its picture moves by itself or
// changes at a key pressed through VNC. Dump and restore times, image sizes.
// usage: node --import tsx --import ./server/runtime/register.js bench/apps.mts [--apps=writer,firefox] [--cycles=10]
//        [--displays=80-95] [--out=apps]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine } from '../server/engine';
import { appPresets } from '../lib/presets';
import { treePids } from '../server/desktops/processes';
import { eventually } from '../test/support/eventually';
import { largestWindow, type Region } from '../test/support/windows';
import { arg, fmt, header, LoadLog, median, numArg, table, writeResults } from './lib/common.mts';
import { appSigns, windows, type AppSign } from './lib/appSigns.mts';
import { clickAt, pictureChanges } from './lib/picture.mts';
import { vncTargetOf } from '../server/desktops/rooms';
import type { DesktopRecord } from '../server/desktops/records';
import type { XDesktop } from '../test/support/xDisplay';

const apps = arg('apps', Object.keys(appPresets).join(',')).split(',');
const cycles = numArg('cycles', 10);
const out = arg('out', 'apps');
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-apps-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: arg('displays', '80-95') });
const { desktops } = engine;
const loads = new LoadLog();

/** The tree's processes: host PID, name, and PID in the desktop's namespace (NSpid's last field). */
const processes = async (root: number) =>
  (await Promise.all((await treePids(root)).map(async (pid) => {
    try {
      const [comm, status] = await Promise.all([readFile(`/proc/${pid}/comm`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
      return [{ pid, comm: comm.trim(), nsPid: Number(/^NSpid:.*\s(\d+)\s*$/m.exec(status)?.[1]) }];
    } catch {
      return []; // gone meanwhile
    }
  }))).flat();

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b).join(',');

async function region(desktop: XDesktop, sign: AppSign): Promise<Region> {
  const found = largestWindow(await windows(desktop), sign.name);
  if (!found) throw new Error(`no window ${sign.name}`);
  return found;
}

/** Proves the app lives: its picture moves by itself, or changes at the key for cycle n. Returns the ms it took. */
function proveAlive(desktop: DesktopRecord, sign: AppSign, at: Region, n: number): Promise<number> {
  const proof = sign.proof;
  const target = vncTargetOf(desktops.paths, desktop);
  if (proof === 'moves') return pictureChanges(target, desktop.vncPassword, at);
  return pictureChanges(target, desktop.vncPassword, at, (client) => client.key(proof.key(n)));
}

interface AppResult {
  app: string;
  proof: string;
  startMs: number;
  processes: number;
  dumpMs: number[];
  /** Dump attempts tried again (operations/checkpoint.ts: a connection, a file or an exit in flight), all cycles. */
  retried: number;
  restoreMs: number[];
  imageMB: number[];
  /** From the restore's end to the picture's change (moving apps), or from the key (the others). */
  proofMs: number[];
  failure?: string;
}
const results: AppResult[] = [];
loads.note('start');
try {
  for (const app of apps) {
    const sign = appSigns[app];
    if (!sign) throw new Error(`no signs known for app ${app}`);
    const r: AppResult = { app, proof: sign.proof === 'moves' ? 'moves' : 'a key', startMs: 0, processes: 0, dumpMs: [], retried: 0, restoreMs: [], imageMB: [], proofMs: [] };
    results.push(r);
    const t0 = performance.now();
    const desktop = await desktops.start({ geometry: '1024x768', apps: [app] });
    try {
      await eventually(async () => {
        if (!sign.window.test(await windows(desktop))) throw new Error(`${app}: no window yet`);
      }, 90_000);
      r.startMs = performance.now() - t0;
      // Its window drawn and alive before the first dump; the key-driven ones get the focus first.
      const first = await eventually(() => region(desktop, sign), 30_000);
      if (sign.proof !== 'moves') {
        const [fx, fy] = sign.proof.focusAt ?? [0.5, 0.5];
        await clickAt(vncTargetOf(desktops.paths, desktop), desktop.vncPassword, Math.round(first.x + first.width * fx), Math.round(first.y + first.height * fy));
      }
      await eventually(() => proveAlive(desktop, sign, first, 0), 60_000);
      const started = await processes(desktop.pid!);
      r.processes = started.length;
      const appPids = started.filter((p) => sign.comm.test(p.comm)).map((p) => p.nsPid);
      // The app's first process (the one desktop.sh started): the same PID in every cycle, never a new one.
      const mainPid = Math.min(...appPids);
      for (let n = 1; n <= cycles; n++) {
        const { checkpoint } = await desktops.checkpoint(desktop.id);
        const restored = await desktops.restore(checkpoint.id);
        const back = await processes(restored.desktop.pid!);
        r.dumpMs.push(checkpoint.dumpMs!);
        r.retried += checkpoint.retried?.length ?? 0;
        r.restoreMs.push(restored.restoreMs);
        r.imageMB.push(checkpoint.imageBytes! / 1e6);
        // Same PIDs: every process the images hold is back under its PID, and no other one.
        const dumped = (await desktops.inspect(checkpoint.id)).processes.map((p) => p.pid);
        if (sorted(back.map((p) => p.nsPid)) !== sorted(dumped)) {
          throw new Error(`cycle ${n}: PIDs ${sorted(back.map((p) => p.nsPid))} running, ${sorted(dumped)} in the images`);
        }
        if (!back.some((p) => p.nsPid === mainPid && sign.comm.test(p.comm))) throw new Error(`cycle ${n}: the app's PID ${mainPid} is not back`);
        const at = await region(desktop, sign).catch((e) => {
          throw new Error(`cycle ${n}: ${(e as Error).message}`);
        });
        const proofMs = await proveAlive(restored.desktop, sign, at, n).catch((e) => {
          throw new Error(`cycle ${n}: ${(e as Error).message}`);
        });
        r.proofMs.push(proofMs);
        console.log(
          `${app} cycle ${n}: dump ${fmt(checkpoint.dumpMs!, 0)} ms, ${fmt(checkpoint.imageBytes! / 1e6)} MB, restore ${fmt(restored.restoreMs, 0)} ms, ` +
            `${back.length} processes, the same PIDs, picture ${sign.proof === 'moves' ? 'moved' : 'changed at a key'} after ${fmt(proofMs, 0)} ms` +
            (checkpoint.retried?.length ? `; the dump tried again after: ${checkpoint.retried.join(' | ')}` : ''),
        );
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
  const range = (xs: number[]) => `${fmt(median(xs), 0)} (${fmt(Math.min(...xs), 0)}–${fmt(Math.max(...xs), 0)})`;
  const rows = results.map((r) => [
    `\`${r.app}\``,
    `${r.proofMs.length} / ${cycles}${r.failure ? ` (${r.failure})` : ''}`,
    r.processes,
    fmt(r.startMs / 1000, 1),
    range(r.dumpMs),
    r.retried,
    range(r.restoreMs),
    fmt(median(r.imageMB), 0),
    `${r.proof}: ${range(r.proofMs)}`,
  ]);
  const markdown = [
    header(
      'App catalog: consecutive checkpoint/restore cycles per preset',
      `Each preset alone on a 1024x768 desktop (with icewm), ${cycles} consecutive checkpoint + restore cycles through the engine. ` +
        "Each cycle is proven: after the restore the desktop's processes are exactly those the images hold, under the same PIDs " +
        "(the app's first process the same one since its start), and the app's window changes on screen (read over VNC): " +
        'by itself for the apps that move (xclock, the counter pages, the clip), at a key pressed through VNC for the others ' +
        '(a character typed into xterm, writer, mousepad, a digit into the calculator, n and p in turn in xpdf).',
      loads,
    ),
    table(['preset', 'cycles proven', 'processes', 'start to window (s)', 'dump ms median (min–max)', 'dump attempts tried again', 'restore ms median (min–max)', 'image MB median', 'picture changed, ms median (min–max)'], rows),
    '',
    loads.markdown(),
    '',
  ].join('\n');
  writeResults(out, markdown, undefined, results);
  console.log(markdown);
  process.exitCode = results.some((r) => r.failure) ? 1 : 0;
} finally {
  for (const d of await desktops.list()) if (d.state !== 'stopped') await desktops.stop(d.id).catch(() => {});
  await rm(stateDir, { recursive: true, force: true });
}
