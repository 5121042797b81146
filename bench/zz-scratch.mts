import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createEngine } from '/work/wt-lazy/server/engine';
import { eventually } from '/work/wt-lazy/test/support/eventually';
import { xCommand } from '/work/wt-lazy/test/support/xDisplay';
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-lazyscratch-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: '90-99', FREEZEFRAME_LAZY: 'off' });
const { desktops } = engine;
const desktop = await desktops.start({ geometry: '1024x768', apps: ['firefox'] });
await eventually(async () => {
  const [program, args] = xCommand(desktop, 'xwininfo', ['-root', '-tree']);
  if (!/Mozilla Firefox/.test((await promisify(execFile)(program, args, { timeout: 10_000 })).stdout)) throw new Error('no window');
}, 90_000);
for (const lazy of [false, true, true, false, false, true]) {
  const { checkpoint } = await desktops.checkpoint(desktop.id);
  const r = await desktops.restore(checkpoint.id, { lazy });
  console.log(lazy, r.restoreMs, checkpoint.imageBytes, path.join(stateDir, 'checkpoints', checkpoint.id));
  await eventually(async () => { if ((await desktops.get(desktop.id)).fetching) throw new Error('x'); }, 60_000);
}
await desktops.stop(desktop.id);
console.log(stateDir);
