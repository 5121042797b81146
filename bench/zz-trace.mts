import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createEngine } from '../server/engine';
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'ff-trace-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_KEY_DIR: path.join(stateDir, 'keys'), FREEZEFRAME_DISPLAYS: '240-245' });
await engine.desktops.keepReady();
const d = await engine.desktops.start({ geometry: '1024x768', apps: ['xterm'] });
await delay(1500);
for (let i = 0; i < Number(process.env.N ?? 4); i++) {
  const t0 = performance.now();
  const { checkpoint } = await engine.desktops.checkpoint(d.id, { replyFirst: true });
  const t1 = performance.now();
  await delay(700);
  const t2 = performance.now();
  await engine.desktops.restore(checkpoint.id);
  const t3 = performance.now();
  console.log(`CYCLE dump ${(t1 - t0).toFixed(1)} restore ${(t3 - t2).toFixed(1)}`);
  await delay(700);
}
await engine.desktops.stop(d.id);
process.exit(0);
