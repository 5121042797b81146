// Checkpoint/restore cycles of one desktop with a viewer connected, counting what could leak along the way.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import type { Engine } from '../../server/engine';
import { listCriuRules } from '../../server/desktops/cleanup';
import { RfbClient } from '../../server/vnc/rfbClient';

export interface Leakables {
  iptablesRules: number;
  xLocks: number;
  serverFds: number;
  mounts: number;
  zombies: number;
}

/** What a cycle must leave as it found: CRIU's rules, X locks, our fds, mounts, zombies. */
export async function countLeakables(vncPort: number): Promise<Leakables> {
  const tmp = await readdir('/tmp');
  let zombies = 0;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // This process adopts what its operations orphan (see native/reaper.c): their zombies would be its children.
    if (state === 'Z' && Number(ppid) === process.pid) zombies++;
  }
  return {
    iptablesRules: (await listCriuRules(vncPort)).length,
    xLocks: tmp.filter((f) => /^\.X\d+-lock$/.test(f)).length,
    serverFds: (await readdir('/proc/self/fd')).length,
    mounts: (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').length,
    zombies,
  };
}

export interface SoakResult {
  cycles: number;
  failures: number;
  before: Leakables;
  after: Leakables;
  dumpMs: number[];
  restoreMs: number[];
}

/** cycles x (checkpoint, restore, an update on the same connection); the first failure ends the soak. */
export async function soak(engine: Engine, cycles: number, onCycle?: (n: number) => void): Promise<SoakResult> {
  const { desktops } = engine;
  const desktop = await desktops.start({ geometry: '800x600', apps: ['xterm', 'xclock'] });
  const viewer = await RfbClient.connect(desktop.vncPort, { password: desktop.vncPassword });
  await viewer.nextUpdate(10_000);
  const before = await countLeakables(desktop.vncPort);
  const dumpMs: number[] = [];
  const restoreMs: number[] = [];
  let failures = 0;
  let after: Leakables;
  try {
    for (let n = 1; n <= cycles; n++) {
      try {
        const { checkpoint } = await desktops.checkpoint(desktop.id);
        dumpMs.push(checkpoint.dumpMs!);
        const restored = await desktops.restore(checkpoint.id);
        restoreMs.push(restored.restoreMs);
        assert.equal(viewer.closed, false, 'the viewer connection survived');
        await viewer.nextUpdate(10_000);
        // Each checkpoint is ~30 MB: keep the disk flat over a long soak.
        await desktops.deleteCheckpoint(checkpoint.id);
      } catch (error) {
        failures++;
        throw new Error(`cycle ${n} failed`, { cause: error });
      }
      onCycle?.(n);
    }
    // Counted with the viewer still connected, as before the first cycle.
    after = await countLeakables(desktop.vncPort);
  } finally {
    viewer.close();
  }
  await desktops.stop(desktop.id);
  return { cycles, failures, before, after, dumpMs, restoreMs };
}
