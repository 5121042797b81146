// Purpose: how often a Firefox checkpoint taken in its first seconds loses Firefox on restore (its IPC caught in
// flight: bench/README.md, "Issue #13, session 8"), and what each dump tried again. Per desktop: Firefox started,
// checkpointed 0-2 s (random) after its window shows, restored (--mode), checked 4 s later for its first process.
// Desktops that lost Firefox keep their checkpoint (images, logs) in the state folder, which is then kept.
//
// usage: node --import tsx --import ./server/runtime/register.js bench/analysis/firefoxEarly.mts [--desktops=30]
//        [--mode=eager|lazy] [--displays=100-115]
// FREEZEFRAME_CRIU=a criu without scripts/criu-patches/0005 (no --refuse-fds-in-flight): the same without the retry.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createEngine } from '../../server/engine';
import { treePids } from '../../server/desktops/processes';
import { eventually } from '../../test/support/eventually';
import { xCommand } from '../../test/support/xDisplay';
import { arg, numArg } from '../lib/common.mts';
import { appSigns } from '../lib/appSigns.mts';

const count = numArg('desktops', 30);
const mode = arg('mode', 'eager');
if (mode !== 'eager' && mode !== 'lazy') throw new Error('--mode is eager or lazy');
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-ffearly-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: arg('displays', '100-115'), FREEZEFRAME_LAZY: 'off' });
await engine.desktops.keepReady();
const { desktops } = engine;
console.log(`criu ${engine.config.criuPath}; refuses files in flight: ${engine.config.refuseFdsInFlight}; restores ${mode}`);

/** Firefox's first process (its main one) in the desktop's tree, by its host PID; undefined once gone. */
async function firefoxMain(id: string): Promise<number | undefined> {
  const { pid } = await desktops.get(id);
  if (!pid) return undefined;
  return (await treePids(pid)).find((p) => {
    try {
      return appSigns.firefox.comm.test(readFileSync(`/proc/${p}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
}

let lost = 0;
let triedAgain = 0;
for (let i = 1; i <= count; i++) {
  const desktop = await desktops.start({ geometry: '1024x768', apps: ['firefox'] });
  await eventually(async () => {
    const [program, args] = xCommand(desktop, 'xwininfo', ['-root', '-tree']);
    if (!appSigns.firefox.window.test((await promisify(execFile)(program, args, { timeout: 10_000 })).stdout)) throw new Error('no window yet');
  }, 90_000);
  const waitMs = Math.floor(Math.random() * 2000);
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  const { checkpoint } = await desktops.checkpoint(desktop.id);
  await desktops.restore(checkpoint.id, { lazy: mode === 'lazy' });
  // Firefox's IPC errors end it within 0.3-4 s of a restore (bench/results/lazy-firefox-segv).
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const alive = (await firefoxMain(desktop.id)) !== undefined;
  triedAgain += checkpoint.retried?.length ?? 0;
  console.log(`${i}: checkpointed ${waitMs} ms after the window; ${alive ? 'Firefox lives' : 'FIREFOX LOST'}` +
    `${checkpoint.retried?.length ? `; the dump tried again after: ${checkpoint.retried.join(' | ')}` : ''} (${desktop.id}, ${checkpoint.id})`);
  await desktops.stop(desktop.id).catch(() => {});
  if (alive) await desktops.deleteCheckpoint(checkpoint.id);
  else lost++;
}
console.log(`Firefox lost after ${lost} restores of ${count}; dump attempts tried again: ${triedAgain}`);
if (lost) console.log(`the state folder is kept for inspection: ${stateDir}`);
else await rm(stateDir, { recursive: true, force: true });
process.exit(0);
