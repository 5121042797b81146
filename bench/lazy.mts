// Lazy vs eager restore (issue #13 part 3), in the same run on the same desktop: per app alone on a 1024x768
// desktop, checkpoint + restore pairs, lazy and eager interleaved (ELLE...), each timed from the restore request to
// the first changed frame on the viewer connection kept across the freeze (apps that move by themselves), to the
// restore's return, and (lazy) to the lazy-pages daemon's exit (every page sent), with the image size.
// usage: node --import tsx --import ./server/runtime/register.js bench/lazy.mts [--apps=firefox,chromium,xterm]
//        [--pairs=6] [--displays=80-95] [--cache=warm|cold] [--ballast=MB] [--out=lazy] [--levels=4:4,3:3]
//        [--modes=eager,lazy] [--rcu=alternate]
// --rcu=alternate: every cycle twice, with the kernel's /sys/kernel/rcu_expedited at 0 and at 1 (set before the
// checkpoint, the order alternating; the value found is put back at the end; server/criu/rcu.ts).
// --levels=R:D,...: criu's log level for the dump and restore (R) and the lazy-pages daemon's (D), each pair of
// checkpoint + restore at every level on the same desktop, the levels' order alternating: the log level's effect
// measured in the same run. Without it: the engine's defaults. --modes=lazy: lazy restores only.
// --ballast=MB adds a process holding that much memory, written (python3: bytes of 'x'), to each desktop: a bigger
// desktop with the same picture.
// --cache=cold drops the checkpoint's image files from the page cache before each restore (synced, then
// POSIX_FADV_DONTNEED through dd's nocache; only those files): a restore after a long freeze or a reboot, or of an
// imported checkpoint, reads its images from the disk. warm (the default): as just dumped, in memory.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine } from '../server/engine';
import { premapFits } from '../server/criu/lazyPages';
import type { FreezeframeError } from '../server/errors';
import { vncTargetOf } from '../server/desktops/rooms';
import { connectRfb } from '../server/vnc/target';
import type { RfbClient } from '../server/vnc/rfbClient';
import { eventually } from '../test/support/eventually';
import { xCommand } from '../test/support/xDisplay';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { arg, fmt, header, load, LoadLog, median, numArg, table, writeResults } from './lib/common.mts';
import { appSigns } from './lib/appSigns.mts';
import { treePids } from '../server/desktops/processes';

const apps = arg('apps', 'firefox,chromium,xterm').split(',');
const levels = arg('levels', '').split(',').filter(Boolean).map((l) => {
  const [r, d] = l.split(':').map(Number);
  if (![3, 4].includes(r) || ![3, 4].includes(d)) throw new Error('--levels takes R:D pairs, each 3 or 4, e.g. 4:4,3:3');
  return { restore: r as 3 | 4, daemon: d as 3 | 4, name: `-v${r} (daemon -v${d})` };
});
const modes = arg('modes', 'eager,lazy').split(',') as ('eager' | 'lazy')[];
const rcuFile = '/sys/kernel/rcu_expedited';
const rcuValues: (0 | 1 | undefined)[] = arg('rcu', '') === 'alternate' ? [0, 1] : [undefined];
const rcuFound = rcuValues[0] !== undefined ? readFileSync(rcuFile, 'utf8').trim() : undefined;
const pairs = numArg('pairs', 6);
const cache = arg('cache', 'warm');
const ballastMb = numArg('ballast', 0);
const ballast = ballastMb ? [['python3', '-c', `import time; b = b'x' * (${ballastMb} << 20); time.sleep(1e9)`]] : [];
if (cache !== 'warm' && cache !== 'cold') throw new Error('--cache is warm or cold');
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-lazy-'));
// Every restore here says lazy or not; 'auto' plays no part.
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: arg('displays', '80-95'), FREEZEFRAME_LAZY: 'off' });
// Ready as the server keeps itself (Desktops.keepReady): a criu worker waiting, screens kept, each checkpoint's
// images decoded for the trust check after the reply.
await engine.desktops.keepReady();
const { desktops } = engine;
const loads = new LoadLog();
const frameTimeoutMs = 15_000;

/** The checkpoint's images out of the page cache (each file written back first: dirty pages cannot be dropped). */
async function dropFromCache(dir: string): Promise<void> {
  const files = (await readdir(dir)).map((f) => path.join(dir, f));
  await run('sync', files);
  await Promise.all(files.map((f) => run('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none'])));
}
const run = promisify(execFile);

const hash = (client: RfbClient) => createHash('sha1').update(client.pixels!).digest('hex');

/** ms from t0 to the first update whose screen differs from `frozen`; undefined if none within the timeout. */
function firstChangedFrame(client: RfbClient, frozen: string, t0: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(undefined), frameTimeoutMs);
    const onUpdate = () => {
      if (hash(client) !== frozen) done(performance.now() - t0);
    };
    const done = (ms: number | undefined) => {
      clearTimeout(timer);
      client.off('update', onUpdate);
      resolve(ms);
    };
    client.on('update', onUpdate);
  });
}

interface Sample {
  mode: 'lazy' | 'eager';
  /** --levels: the levels of this cycle. */
  level?: string;
  load: string;
  imageMB: number;
  /** criu dump's own time for the checkpoint restored (the engine's dumpMs), at the same levels. */
  dumpMs?: number;
  /** criu restore's own time (the engine's restoreMs). */
  criuMs: number;
  /** The restore call, request to return. */
  requestMs: number;
  /** Request to the first changed frame on the kept connection (apps that move by themselves). */
  frameMs?: number;
  /** Lazy: request to the daemon's exit (the last page in). */
  allPagesMs?: number;
  pages?: string;
}
const results: { app: string; samples: Sample[]; failure?: string; premapFits?: boolean; lazyError?: string }[] = [];

/** The app's processes in the desktop's tree, by their PID inside it (NSpid's last field): a restore keeps them. */
async function appPids(desktopId: string, comm: RegExp): Promise<number[]> {
  const { pid } = await desktops.get(desktopId);
  const found = await Promise.all((await treePids(pid!)).map(async (p) => {
    try {
      const [name, status] = [readFileSync(`/proc/${p}/comm`, 'utf8').trim(), readFileSync(`/proc/${p}/status`, 'utf8')];
      return comm.test(name) ? [Number(/^NSpid:.*\s(\d+)\s*$/m.exec(status)?.[1])] : [];
    } catch {
      return []; // gone meanwhile
    }
  }));
  return found.flat().sort((a, b) => a - b);
}
loads.note('start');
try {
  for (const app of apps) {
    const sign = appSigns[app];
    const r: (typeof results)[number] = { app, samples: [] };
    results.push(r);
    const desktop = await desktops.start({ geometry: '1024x768', apps: [app], commands: ballast });
    let client: RfbClient | undefined;
    try {
      await eventually(async () => {
        const [program, args] = xCommand(desktop, 'xwininfo', ['-root', '-tree']);
        if (!sign.window.test((await promisify(execFile)(program, args, { timeout: 10_000 })).stdout)) throw new Error(`${app}: no window yet`);
      }, 90_000);
      const [mainPid] = await appPids(desktop.id, sign.comm);
      if (mainPid === undefined) throw new Error(`${app}: its window is up, but no process named ${sign.comm} runs`);
      client = await connectRfb(vncTargetOf(desktops.paths, desktop), { password: desktop.vncPassword, keepPixels: true });
      await client.nextUpdate(10_000);
      const moves = sign.proof === 'moves';
      // ELLE ELLE ...: neither mode always goes first after a fresh start; with levels, every mode at every level,
      // the levels' order alternating too.
      const levelList = levels.length ? levels : [undefined];
      const order = Array.from({ length: pairs }, (_, i) => (i % 2 ? [...modes].reverse() : modes).flatMap((mode) =>
        (i % 2 ? [...levelList].reverse() : levelList).flatMap((level) => (i % 2 ? [...rcuValues].reverse() : rcuValues).map((rcu) => {
          const name = [level?.name, rcu === undefined ? undefined : `rcu_expedited=${rcu}`].filter(Boolean).join(', ') || undefined;
          return { mode, level, rcu, name };
        })))).flat();
      for (const [i, { mode, level, rcu, name }] of order.entries()) {
        if (rcu !== undefined) writeFileSync(rcuFile, String(rcu));
        if (level) {
          engine.config.criuLogLevel = level.restore;
          engine.config.criuLazyLogLevel = level.daemon;
        }
        const { checkpoint } = await desktops.checkpoint(desktop.id);
        if (cache === 'cold') await dropFromCache(desktops.paths.checkpointImages(checkpoint.id));
        const frozen = hash(client);
        const loadNow = load();
        const t0 = performance.now();
        const frame = moves ? firstChangedFrame(client, frozen, t0) : Promise.resolve(undefined);
        r.premapFits ??= await premapFits(desktops.paths.checkpointImages(checkpoint.id));
        if (mode === 'lazy' && r.lazyError) {
          await desktops.restore(checkpoint.id, { lazy: false });
          await desktops.deleteCheckpoint(checkpoint.id);
          continue;
        }
        let restored;
        try {
          restored = await desktops.restore(checkpoint.id, { lazy: mode === 'lazy' });
        } catch (error) {
          if (mode !== 'lazy') throw error;
          // What criu says of this app's lazy restore (Chromium: its reservations cannot be premapped); its eager
          // restores go on, and the desktop with them.
          r.lazyError = ((error as FreezeframeError).details?.error as { errors?: string[] } | undefined)?.errors?.[0] ?? (error as Error).message;
          console.log(`${app} lazy: FAILS: ${r.lazyError}`);
          await desktops.restore(checkpoint.id, { lazy: false });
          await desktops.deleteCheckpoint(checkpoint.id);
          continue;
        }
        const requestMs = performance.now() - t0;
        const frameMs = await frame;
        if (moves && frameMs === undefined) throw new Error(`${mode} ${i + 1}: no changed frame within ${frameTimeoutMs} ms`);
        const s: Sample = { mode, level: name, load: loadNow, imageMB: checkpoint.imageBytes! / 1e6, dumpMs: checkpoint.dumpMs, criuMs: restored.restoreMs, requestMs, frameMs };
        if (mode === 'lazy') {
          await eventually(async () => {
            if ((await desktops.get(desktop.id)).fetching) throw new Error('pages still being sent');
          }, 120_000);
          const lazy = (await desktops.checkpoints(desktop.id)).find((c) => c.id === checkpoint.id)!.restores.at(-1)!.lazy!;
          if (!lazy.ok) throw new Error(`${mode} ${i + 1}: the lazy-pages daemon failed: ${lazy.errors}`);
          // lazy.ms runs from the daemon's start, a few ms before the request's criu: close enough, and never less.
          s.allPagesMs = lazy.ms;
          s.pages = `${lazy.copiedPages}/${lazy.totalPages}`;
        }
        r.samples.push(s);
        console.log(`${app} ${mode}${name ? ` ${name}` : ''}: ${fmt(s.imageMB, 0)} MB, criu ${fmt(s.criuMs, 0)} ms, request ${fmt(requestMs, 0)} ms, first frame ${frameMs === undefined ? 'n/a' : fmt(frameMs, 0)} ms${s.allPagesMs ? `, all pages ${fmt(s.allPagesMs, 0)} ms (${s.pages})` : ''}; load ${loadNow}`);
        // A changed frame is a picture that moves again; one more proves it keeps moving before the next dump.
        if (moves) await client.nextUpdate(10_000);
        // And the app is whole: its first process (by its PID in the desktop) is the one it started with. A
        // frame alone does not say it (Firefox dying after a restore leaves a desktop that still draws).
        const [main] = await appPids(desktop.id, sign.comm);
        if (main !== mainPid) throw new Error(`${mode} ${i + 1}: ${app} did not survive the restore: its process ${mainPid} (in the desktop) is gone${main ? `, ${main} is its first now` : ''}`);
        await desktops.deleteCheckpoint(checkpoint.id);
      }
    } catch (error) {
      r.failure = (error as Error).message;
      console.error(`${app}: FAILED: ${r.failure}`);
    } finally {
      client?.close();
      await desktops.stop(desktop.id).catch(() => {});
    }
    loads.note(`after ${app}`);
  }
  const range = (xs: (number | undefined)[]) => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? `${fmt(median(v), 0)} (${fmt(Math.min(...v), 0)}–${fmt(Math.max(...v), 0)})` : 'n/a';
  };
  const loadRange = (xs: Sample[]) => {
    const l1 = xs.map((x) => Number(x.load.split(' ')[0]));
    return xs.length ? `${fmt(Math.min(...l1), 2)}–${fmt(Math.max(...l1), 2)}` : 'n/a';
  };
  const variantNames = (levels.length ? levels.map((l) => l.name) : [undefined]).flatMap((l) => rcuValues.map((r) => [l, r === undefined ? undefined : `rcu_expedited=${r}`].filter(Boolean).join(', ') || undefined));
  const rows = results.flatMap((r) => modes.flatMap((mode) => variantNames.map((level) => {
    const s = r.samples.filter((x) => x.mode === mode && x.level === level);
    const note = mode === 'lazy' && r.lazyError ? ` (fails: ${r.lazyError})` : '';
    return [`\`${r.app}\`${r.failure ? ` (FAILED: ${r.failure})` : ''}`, `${mode}${note}${level ? `, ${level}` : ''}`, r.premapFits === undefined ? '?' : r.premapFits ? 'yes' : 'no', s.length, range(s.map((x) => x.imageMB)), range(s.map((x) => x.dumpMs)), range(s.map((x) => x.criuMs)), range(s.map((x) => x.requestMs)), range(s.map((x) => x.frameMs)), range(s.map((x) => x.allPagesMs)), loadRange(s)];
  })));
  const markdown = [
    header(
      'Lazy vs eager restore',
      `Each app alone${ballastMb ? ` (with a process holding ${ballastMb} MB)` : ''} on a 1024x768 contained desktop, criu at ${levels.length ? levels.map((l) => l.name).join(' and ') + ', alternated' : `-v${engine.config.criuLogLevel} (daemon -v${engine.config.criuLazyLogLevel})`}${rcuValues[0] !== undefined ? ', /sys/kernel/rcu_expedited 0 and 1 alternated' : ''}, images ${cache === 'cold' ? 'dropped from the page cache before each restore (read from the disk)' : 'in the page cache (just dumped)'}; ${pairs} pairs of checkpoint + restore, eager and lazy interleaved ` +
        '(E L L E ...), every restore of a checkpoint just taken. Timed from the restore request (the engine call) to: criu ' +
        "restore's return (criu), the call's return (request), the first frame on the viewer connection kept across the freeze " +
        "whose screen differs from the frozen one (apps that move by themselves), and, lazy, the lazy-pages daemon's exit " +
        "(every page sent; from its start, just before criu restore). 'premap fits': whether criu can map every private " +
        "mapping of the images up front, as a lazy restore by a criu without scripts/criu-patches/0004 makes it " +
        "(server/criu/lazyPages.ts premapFits, what 'auto' checks with such a criu; with the patch, a lazy restore maps what an eager one does).",
      loads,
    ),
    table(['app', 'mode', 'premap fits', 'n', 'image MB', 'criu dump ms (its checkpoint)', 'criu restore ms', 'request -> return ms', 'request -> first changed frame ms', 'request -> all pages in ms', 'load (1 min)'], rows),
    '',
    'Every restore:',
    '',
    table(['app', '#', 'mode', 'levels', 'dump ms', 'criu ms', 'request -> return ms', 'first changed frame ms', 'all pages ms (pages)', 'load 1/5/15'], results.flatMap((r) => r.samples.map((x, i) => [r.app, i + 1, x.mode, x.level ?? 'default', fmt(x.dumpMs ?? NaN, 0), fmt(x.criuMs, 0), fmt(x.requestMs, 0), fmt(x.frameMs ?? NaN, 0), x.allPagesMs ? `${fmt(x.allPagesMs, 0)} (${x.pages})` : '', x.load]))),
    '',
    'Medians (min–max).',
    '',
    loads.markdown(),
    '',
  ].join('\n');
  writeResults('lazy', markdown, undefined, results);
  console.log(markdown);
  process.exitCode = results.some((r) => r.failure) ? 1 : 0;
} finally {
  for (const d of await desktops.list()) if (d.state !== 'stopped') await desktops.stop(d.id).catch(() => {});
  // A failure's evidence (the desktop's log, criu's and the daemon's) stays for whoever looks into it.
  if (results.some((r) => r.failure)) console.log(`the state folder is kept for inspection: ${stateDir}`);
  else await rm(stateDir, { recursive: true, force: true });
  if (rcuFound !== undefined) writeFileSync(rcuFile, rcuFound);
}
