// Self-contained desktops (#12): cold start vs restoring 1/4/8 clones of one xclock checkpoint at once, PSS per
// clone, the iptables vs nftables network lock, what criu's dump of the private /tmp costs, and the host's
// mounts external (chosen) vs dumped with the tree.
// Run as root: node --import tsx --import ./server/runtime/register.js bench/clones.mts --rounds=3 --counts=1,4,8
//   --app=firefox: the same with Firefox ESR on the counter page (cold start and clones until its window shows)
import { closeSync, openSync, statSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { appArgs, resolveApps } from '../server/desktops/apps';
import { runCriu } from '../server/criu/run';
import { adoptOrphans, treePids } from '../server/desktops/processes';
import { containedDumpOptions, containedRestoreOptions } from '../server/sandbox/criuFlags';
import { appSigns } from './lib/appSigns.mts';
import { eventually } from '../test/support/eventually';
import { copyHomeBase, mountCloneHome, unmountCloneHome, type CloneHome } from '../server/sandbox/overlayHome';
import { deleteNetns } from '../server/sandbox/netns';
import { config, criuDump, criuRestore, desktopIds, forgetRooms, killTree, makeRoom, scratch, startContained, viewerIn, type Room } from '../test/support/containedDesktop';
import { arg, fmt, LoadLog, machine, median, numArg, resultsDir } from './lib/common.mts';

const rounds = numArg('rounds', 3);
const counts = arg('counts', '1,4,8').split(',').map(Number);
const logLevel = 3; // the engine's lowest (criu's verdict line needs -v3); -v4, its default, adds criu's own logging to the figures
const app = arg('app', 'xclock');
const presets = resolveApps([app]);
const apps = appArgs(presets, config.rootDir);
const appEnv: Record<string, string> = Object.assign({}, ...presets.map((p) => p.env ?? {}));

/** The app's window shows on the desktop's display (xwininfo run in the tree's network and mount namespaces). */
async function appUp(rootPid: number): Promise<void> {
  await eventually(async () => {
    const { stdout } = await execa('nsenter', ['-t', String(rootPid), '-n', '-m', 'xwininfo', '-root', '-tree', '-display', ':1'], { timeout: 10_000 });
    if (!appSigns[app].window.test(stdout)) throw new Error(`no ${app} window yet in ${rootPid}`);
  }, 120_000);
}
const loadLog = new LoadLog();

/** Sum of the tree's proportional set sizes (kB): shared pages counted once across every process that maps them. */
async function pssKb(rootPid: number): Promise<number> {
  let total = 0;
  for (const pid of await treePids(rootPid)) {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    total += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  }
  return total;
}

/** ms between the log line matching `from` and the line after it (criu timestamps its lines in seconds). */
function stepMs(log: string, from: RegExp): number {
  const lines = log.split('\n');
  const i = lines.findIndex((l) => from.test(l));
  const t = (l: string | undefined) => Number(/^\((\d+\.\d+)\)/.exec(l ?? '')?.[1]);
  const next = lines.slice(i + 1).find((l) => /^\(\d+\.\d+\)/.test(l));
  return i < 0 ? NaN : (t(next) - t(lines[i])) * 1000;
}

const work = await scratch();
adoptOrphans();
const ids = desktopIds();
const rows: string[] = [];
const samples: Record<string, number[]> = {};
const note = (key: string, value: number) => (samples[key] ??= []).push(value);
const alive: number[] = [];
try {
  loadLog.note('start');
  // 1. Cold start: newns to the first framebuffer update a viewer gets.
  for (let r = 0; r < rounds; r++) {
    const room = await makeRoom(work.dir, ids);
    const t0 = performance.now();
    const pid = await startContained(room, apps, { env: appEnv });
    alive.push(pid);
    await appUp(pid);
    const viewer = await viewerIn(room);
    await viewer.nextUpdate(10_000);
    note('cold start ms', performance.now() - t0);
    note('cold PSS kB', await pssKb(pid));
    viewer.close();
    await killTree(pid);
    await deleteNetns(room.netns.name);
  }
  loadLog.note('cold starts done');

  // 2. The template: one xclock desktop, dumped (no viewer: clones restore with --tcp-close anyway).
  const template = await makeRoom(work.dir, ids);
  const templatePid = await startContained(template, apps, { env: appEnv });
  await appUp(templatePid);
  const imagesDir = path.join(work.dir, 'template');
  const dump = await criuDump(templatePid, template, imagesDir, { logLevel });
  note('template dump ms', dump.durationMs);
  const t1 = performance.now();
  const baseHome = path.join(work.dir, 'base-home');
  const baseRun = path.join(work.dir, 'base-run');
  await copyHomeBase(template.homeDir, baseHome);
  await cp(template.runDir, baseRun, { recursive: true, preserveTimestamps: true });
  note('base copy ms', performance.now() - t1);
  await deleteNetns(template.netns.name);

  // 3. N clones at once.
  let cloneNo = 0;
  for (const n of counts) {
    for (let r = 0; r < rounds; r++) {
      const t2 = performance.now();
      const prepared: { room: Room; home: CloneHome }[] = await Promise.all(Array.from({ length: n }, async () => {
        const dir = path.join(work.dir, `clone-${++cloneNo}`);
        const home = await mountCloneHome(baseHome, dir);
        const runDir = path.join(dir, 'run');
        await cp(baseRun, runDir, { recursive: true, preserveTimestamps: true });
        return { room: await makeRoom(work.dir, ids, { homeDir: home.merged, runDir }), home };
      }));
      note(`prepare ${n} ms`, performance.now() - t2);
      const t3 = performance.now();
      const restored = await Promise.all(prepared.map((p, i) => criuRestore(p.room, imagesDir, `restore-${cloneNo}-${i}.log`, { keepConnections: false, logLevel })));
      note(`restore ${n} at once ms`, performance.now() - t3);
      alive.push(...restored.map((x) => x.pid));
      for (const x of restored) note(`restore ${n}: each criu ms`, x.durationMs);
      // Usable: every clone answers a viewer, in its own namespace, with a fresh frame.
      const viewers = await Promise.all(prepared.map(async (p, i) => {
        await appUp(restored[i].pid);
        const v = await viewerIn(p.room);
        await v.nextUpdate(10_000);
        return v;
      }));
      note(`restore ${n} until every app window shows and every viewer has a frame ms`, performance.now() - t3);
      for (const x of restored) note(`PSS per clone of ${n} kB`, await pssKb(x.pid));
      for (const v of viewers) v.close();
      for (const x of restored) await killTree(x.pid);
      for (const p of prepared) {
        await unmountCloneHome(p.home);
        await deleteNetns(p.room.netns.name);
      }
    }
    loadLog.note(`${n} clones done`);
  }

  // 4. Network lock: iptables vs nftables, interleaved, a viewer connected (the lock matters with connections).
  for (let r = 0; r < rounds; r++) {
    for (const networkLock of ['iptables', 'nftables'] as const) {
      const room = await makeRoom(work.dir, ids);
      const pid = await startContained(room, apps, { env: appEnv });
      await appUp(pid);
      const viewer = await viewerIn(room);
      await viewer.nextUpdate(10_000);
      const dir = path.join(work.dir, `lock-${networkLock}-${r}`);
      const d = await criuDump(pid, room, dir, { networkLock, logLevel: 4 });
      const x = await criuRestore(room, dir, 'restore.log', { keepConnections: true, networkLock, logLevel: 4 });
      await viewer.nextUpdate(10_000);
      note(`${networkLock}: dump ms (-v4)`, d.durationMs);
      note(`${networkLock}: restore ms (-v4)`, x.durationMs);
      const dumpLog = await readFile(path.join(dir, 'dump.log'), 'utf8');
      const restoreLog = await readFile(path.join(dir, 'restore.log'), 'utf8');
      note(`${networkLock}: lock step ms`, stepMs(dumpLog, /net: Lock network/) + stepMs(dumpLog, /Running network-lock scripts/));
      note(`${networkLock}: unlock step ms`, stepMs(restoreLog, /net: Unlock network/) + stepMs(restoreLog, /Running network-unlock scripts/));
      // What dumping the private /tmp (a tmpfs: criu tars its content) costs, from the same log.
      note('dump of the private /tmp (tmpfs) ms', stepMs(dumpLog, /mnt: \t\d+: [0-9a-f]+:\/ @ \.\/tmp$/));
      viewer.close();
      await killTree(x.pid);
      await deleteNetns(room.netns.name);
    }
  }
  loadLog.note('network locks done');

  // 5. The host's mounts named by path (criuFlags.ts's 'mnt[]', chosen) vs dumped with the tree, interleaved.
  for (let r = 0; r < rounds; r++) {
    for (const hostMounts of ['external', 'dumped'] as const) {
      const room = await makeRoom(work.dir, ids);
      const pid = await startContained(room, apps, { env: appEnv });
      await appUp(pid);
      const viewer = await viewerIn(room);
      await viewer.nextUpdate(10_000);
      const dir = path.join(work.dir, `mounts-${hostMounts}-${r}`);
      await mkdir(dir);
      const strip = <T extends { external?: string[] }>(o: T): T => (hostMounts === 'external' ? o : { ...o, external: o.external?.filter((e) => e !== 'mnt[]') });
      const d = await runCriu(config.criuPath, 'dump', { imagesDir: dir, logFile: 'dump.log', logLevel, tree: pid, fileLocks: true, ...strip(containedDumpOptions(room.netns.inode)) });
      const fd = openSync(room.netns.path, 'r');
      const pidfile = path.join(dir, 'pid');
      const x = await runCriu(config.criuPath, 'restore', {
        imagesDir: dir, logFile: 'restore.log', logLevel, root: '/', restoreDetached: true, pidfile, fileLocks: true,
        ...strip(containedRestoreOptions(room, true)),
      }, { inheritFds: [fd] }).finally(() => closeSync(fd));
      const restoredPid = Number((await readFile(pidfile, 'utf8')).trim());
      alive.push(restoredPid);
      await viewer.nextUpdate(10_000);
      note(`host mounts ${hostMounts}: dump ms`, d.durationMs);
      note(`host mounts ${hostMounts}: restore ms`, x.durationMs);
      note(`host mounts ${hostMounts}: image bytes`, (await import('node:fs')).readdirSync(dir).filter((f) => f.endsWith('.img')).reduce((sum, f) => sum + (statSync(path.join(dir, f)).size), 0));
      viewer.close();
      await killTree(restoredPid);
      await deleteNetns(room.netns.name);
    }
  }
  loadLog.note('host mounts done');
  const tmpfsImages = (await import('node:fs')).readdirSync(imagesDir).filter((f) => f.startsWith('tmpfs'));
  for (const f of tmpfsImages) note(`image ${f} bytes`, (await import('node:fs')).statSync(path.join(imagesDir, f)).size);
} finally {
  for (const pid of alive) await killTree(pid).catch(() => {});
  await forgetRooms();
  await work.dispose();
}

rows.push('| measure | median | min | max | samples |', '|---|---|---|---|---|');
for (const [key, xs] of Object.entries(samples)) {
  rows.push(`| ${key} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))} | ${fmt(Math.max(...xs))} | ${xs.map((x) => fmt(x, 0)).join(' ')} |`);
}
const m = machine();
const md = [
  `# Clones of a self-contained desktop (${app})`, '',
  `${new Date().toISOString()}; ${Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ')}; ${rounds} rounds; criu -v${logLevel} for the template and clones, -v4 for the network locks.`, '',
  ...rows, '', loadLog.markdown(), '',
].join('\n');
await mkdir(resultsDir, { recursive: true });
const name = app === 'xclock' ? 'clones' : `clones-${app}`;
await writeFile(path.join(resultsDir, `${name}.md`), md);
await writeFile(path.join(resultsDir, `${name}.json`), JSON.stringify({ machine: m, samples, load: loadLog.entries }, null, 1));
console.log(md);
