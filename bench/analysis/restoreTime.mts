// Purpose: where criu restore's own time goes, for the default desktop (xterm) and Firefox (eager or lazy): criu's
// stats-restore (forking, restore), and the restore's -v4 log cut into phases at its info lines, with the largest
// single gaps (a gap is time in which criu logged nothing: work, a wait, or a preemption).
//
// usage: node --import tsx --import ./server/runtime/register.js bench/analysis/restoreTime.mts [--cycles=5]
//        [--displays=150-159] [--desktops=xterm,firefox] [--lazy=0] [--keep=/tmp/dir]
// FREEZEFRAME_CRIU=wrapper (e.g. a script running `strace -c -f -o FILE criu "$@"`) profiles criu as the engine runs it.
// --keep: the state folder (every log) is kept there instead of removed.
// --rcu=alternate: cycles alternate /sys/kernel/rcu_expedited 0 and 1 (set before the checkpoint; put back at the
// end), phases summed per value (server/criu/rcu.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine } from '../../server/engine';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { appSigns } from '../lib/appSigns.mts';
import { eventually } from '../../test/support/eventually';
import { xCommand } from '../../test/support/xDisplay';
import { arg, fmt, load, median, numArg } from '../lib/common.mts';

const cycles = numArg('cycles', 5);
const lazy = arg('lazy', '0') === '1';
const keep = arg('keep', '');
const rcuFile = '/sys/kernel/rcu_expedited';
const rcuValues: (0 | 1 | undefined)[] = arg('rcu', '') === 'alternate' ? [0, 1] : [undefined];
const rcuFound = readFileSync(rcuFile, 'utf8').trim();
const stateDir = keep || (await mkdtemp(path.join(os.tmpdir(), 'freezeframe-rtime-')));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: arg('displays', '150-159'), FREEZEFRAME_CRIU_LOG_LEVEL: '4', FREEZEFRAME_LAZY: 'off' });
const { desktops } = engine;

/** A log's lines as [ms, text]; only the timestamped ones. */
const timed = (log: string) => log.split('\n').flatMap((l) => {
  const m = /^\(\s*([\d.]+)\)\s?(.*)$/.exec(l);
  return m ? [[Number(m[1]) * 1000, m[2]] as [number, string]] : [];
});

// Phase starts: info lines of criu 4.2.1's restore (cr-restore.c, mount, net), in the order they come.
const markers: [RegExp, string][] = [
  [/Forking task with \d+ pid/, 'start'],
  [/Wait until namespaces are created/, 'namespaces, mounts'],
  [/Preparing info about shared resources/, 'shared resources (files, sockets)'],
  [/: Forking task with \d+ pid/, "fork the tree, each task's memory premapped"],
  [/Restoring resources/, "restorers: each task's pages read, threads"],
  [/Unlock network/, 'network unlock (nftables: an RCU grace period, criu/rcu.ts), tasks caught and stopped at sigreturn'],
  [/Run late stage hook/, 'pre-resume, detach'],
  [/Restore finished successfully/, 'end'],
];

async function cachedShare(dir: string): Promise<string> {
  const files = (await readdir(dir)).map((f) => path.join(dir, f));
  const { stdout } = await promisify(execFile)('fincore', ['--bytes', '--noheadings', '--output', 'RES,SIZE', ...files]);
  let res = 0, size = 0;
  for (const line of stdout.trim().split('\n')) {
    const [r, s] = line.trim().split(/\s+/).map(Number);
    res += r;
    size += s;
  }
  return `${fmt((100 * res) / size, 0)} % of ${fmt(size / 1e6, 0)} MB`;
}

const phaseTotals = new Map<string, number[]>();
const gapsAll: { ms: number; before: string; after: string }[] = [];
try {
  for (const spec of arg('desktops', 'xterm,firefox').split(',')) {
    const apps = spec.split('+');
    phaseTotals.clear();
    gapsAll.length = 0;
    const desktop = await desktops.start({ geometry: '1024x768', apps });
    // Inside a contained desktop's own namespace (its display is :1 there), as bench/lazy.mts does.
    await eventually(async () => {
      const [program, args] = xCommand(desktop, 'xwininfo', ['-root', '-tree']);
      const tree = (await promisify(execFile)(program, args, { timeout: 10_000 })).stdout;
      if (apps.some((a) => !appSigns[a]?.window.test(tree))) throw new Error('no window yet');
    }, 90_000);
    const rows: string[] = [];
    for (let i = 0; i < cycles * rcuValues.length; i++) {
      const rcu = rcuValues[(i + Math.floor(i / rcuValues.length)) % rcuValues.length];
      if (rcu !== undefined) writeFileSync(rcuFile, String(rcu));
      const tag = rcu === undefined ? '' : `rcu_expedited=${rcu} `;
      const { checkpoint } = await desktops.checkpoint(desktop.id);
      // How much of the images is in the page cache as criu starts (fincore, util-linux).
      const images = desktops.paths.checkpointImages(checkpoint.id);
      const cached = await cachedShare(images);
      const loadNow = load();
      const restored = await desktops.restore(checkpoint.id, { lazy });
      const info = restored.checkpoint.restores.at(-1)!;
      const lines = timed(await readFile(info.logPath, 'utf8'));
      // Phases: from one marker's first line to the next marker's.
      const starts = (markers.map(([re, name]) => ({ name, at: lines.find(([, t]) => re.test(t))?.[0] })).filter((x) => x.at !== undefined) as { name: string; at: number }[]).sort((a, b) => a.at - b.at);
      const parts: string[] = [];
      for (let k = 0; k + 1 < starts.length; k++) {
        const ms = starts[k + 1].at - starts[k].at;
        const key = `${tag}${starts[k].name}`;
        (phaseTotals.get(key) ?? phaseTotals.set(key, []).get(key)!).push(ms);
        parts.push(`${starts[k].name} ${fmt(ms)}`);
      }
      for (let k = 1; k < lines.length; k++) gapsAll.push({ ms: lines[k][0] - lines[k - 1][0], before: lines[k - 1][1].slice(0, 110), after: lines[k][1].slice(0, 110) });
      const s = info.stats;
      (phaseTotals.get(`${tag}criu restore (stats)`) ?? phaseTotals.set(`${tag}criu restore (stats)`, []).get(`${tag}criu restore (stats)`)!).push(s?.restoreMs ?? NaN);
      rows.push(`${i + 1}: ${tag}engine ${fmt(restored.restoreMs)} ms; stats forking ${fmt(s?.forkingMs ?? NaN)} restore ${fmt(s?.restoreMs ?? NaN)} ms; log ${fmt(lines.at(-1)![0] - lines[0][0])} ms, ${lines.length} lines; ${parts.join(', ')}; images in page cache ${cached}; load ${loadNow}`);
      console.log(`${spec}${lazy ? ' lazy' : ''} ${rows.at(-1)}`);
    }
    console.log(`\n${spec}: phase medians (ms): ${[...phaseTotals].map(([k, v]) => `${k} ${fmt(median(v))}`).join('; ')}`);
    console.log(`${spec}: largest gaps over ${cycles} restores:`);
    for (const g of gapsAll.sort((a, b) => b.ms - a.ms).slice(0, 15)) console.log(`  ${fmt(g.ms)} ms  after "${g.before}"  before "${g.after}"`);
    await desktops.stop(desktop.id);
  }
} finally {
  for (const d of await desktops.list()) if (d.state !== 'stopped') await desktops.stop(d.id).catch(() => {});
  // A lazy restore's daemon may still be writing its log as its desktop stops: retried.
  writeFileSync(rcuFile, rcuFound);
  if (!keep) await rm(stateDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
