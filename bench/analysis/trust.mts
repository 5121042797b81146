// Purpose: what the trust check (server/criu/trust.ts) adds to every restore, for the default desktop and Firefox
// (or the desktops named: --desktops=chromium,mpv, one desktop per name, `+` joining apps of one desktop).
//
// usage: node --import tsx --import ./server/runtime/register.js bench/analysis/trust.mts [--cycles=3] [--checks=7]
//        [--displays=150-159] [--desktops=xterm+xclock,firefox]
// Per desktop: started through the engine, dumped from the moment its windows are up; then, per cycle, the check
// alone run --checks times on the checkpoint's images (its spread is the machine's noise), then a restore through
// the engine (check included) whose criu time is the baseline, then a new checkpoint. Prints a table.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEngine } from '../../server/engine';
import { assertTrustedImages } from '../../server/criu/trust';
import { appsUp } from '../lib/appSigns.mts';
import { arg, fmt, load, median, numArg } from '../lib/common.mts';

const cycles = numArg('cycles', 3);
const checks = numArg('checks', 7);
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-trust-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: arg('displays', '150-159') });
const { desktops } = engine;
const rows: string[] = [];
const samples: string[] = [];
try {
  for (const apps of arg('desktops', 'xterm+xclock,firefox').split(',').map((d) => d.split('+'))) {
    const desktop = await desktops.start({ apps });
    await appsUp(desktop, apps);
    const checkMs: number[] = [];
    const restoreMs: number[] = [];
    let images = 0;
    for (let c = 0; c < cycles; c++) {
      const { checkpoint } = await desktops.checkpoint(desktop.id);
      const dir = path.join(stateDir, 'checkpoints', checkpoint.id, 'images');
      const expected = { uid: desktop.uid!, gid: desktop.gid!, home: path.join(stateDir, 'desktops', desktop.id, 'home'), log: path.join(stateDir, 'desktops', desktop.id, 'desktop.log') };
      for (let i = 0; i < checks; i++) {
        const t0 = performance.now();
        await assertTrustedImages(dir, checkpoint.id, expected);
        checkMs.push(performance.now() - t0);
      }
      images = (await import('node:fs')).readdirSync(dir).length;
      restoreMs.push((await desktops.restore(checkpoint.id)).restoreMs);
    }
    await desktops.stop(desktop.id);
    samples.push(`${apps.join('+')}: checks ${checkMs.map((ms) => fmt(ms)).join(' ')}; restores ${restoreMs.map((ms) => fmt(ms, 0)).join(' ')}`);
    rows.push(`| ${apps.join('+')} | ${images} | ${fmt(median(checkMs))} | ${fmt(Math.min(...checkMs))}–${fmt(Math.max(...checkMs))} | ${fmt(median(restoreMs), 0)} | ${fmt((100 * median(checkMs)) / median(restoreMs))} % |`);
  }
} finally {
  for (const d of await desktops.list()) if (d.state !== 'stopped') await desktops.stop(d.id).catch(() => {});
  await rm(stateDir, { recursive: true, force: true });
}
console.log(`load ${load()}, ${cycles} checkpoints × ${checks} checks each\n`);
console.log('| desktop | image files | check ms (median) | min–max | criu restore ms (median) | check / restore |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
console.log(`\nsamples (ms, in order; each checkpoint's checks run right after its dump):\n${samples.join('\n')}`);
process.exit(0);
