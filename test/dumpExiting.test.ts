// A dump that meets a process half-way out of its exit (its leader a zombie, a thread of it still running: criu
// refuses such a tree, "Zombies with threads are not supported") waits for that exit to end, and completes.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
import { exitingPids } from '../server/desktops/processes';
import { roomOf } from '../server/desktops/rooms';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

// Each time ~/go appears: a perl whose main thread leaves by exit(2) (SYS_exit, 60), not exit_group, while its other
// thread lives some seconds more: for those the process is what a Firefox content process is for a moment while it
// exits at load (a zombie leader with threads); 4 s outlast every retry of the old fixed waits (100 and 200 ms).
const halfway = (seconds: number) => `threads->create(sub { select(undef, undef, undef, ${seconds}) })->detach; syscall(60, 0)`;
const script = (seconds: number) => `while :; do if [ -e "$HOME/go" ]; then rm -f "$HOME/go"; perl -Mthreads -e '${halfway(seconds)}'; fi; sleep 0.1; done`;

describe('a dump meeting a process on its way out', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('260-264')));
  after(async () => dispose());

  test('the retry waits for the exit to end, and the dump completes', { timeout: 120_000 }, async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: [], commands: [['sh', '-c', script(4)]] });
    const home = roomOf(desktops.paths, desktop.id).home;
    for (const leaveRunning of [true, false]) {
      await writeFile(path.join(home, 'go'), '');
      await eventually(() => assert.ok(exitingPids(desktop.pid!).length > 0, 'a process of the tree half-way out'), 20_000);
      const { checkpoint } = await desktops.checkpoint(desktop.id, { leaveRunning });
      assert.equal(checkpoint.state, 'complete');
      assert.match(checkpoint.retried?.join(' | ') ?? 'none', /Zombies with threads are not supported/, 'criu met the process half-way out');
      assert.equal(checkpoint.retried!.length, 1, `tried again once, after the exit: ${checkpoint.retried!.join(' | ')}`);
      if (!leaveRunning) {
        const restored = await desktops.restore(checkpoint.id);
        assert.equal(restored.desktop.state, 'running');
      }
    }
    await desktops.stop(desktop.id);
  });

  test('a process half-way out for longer than an exit takes: the dump fails with criu\'s reason, the desktop runs on', { timeout: 120_000 }, async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: [], commands: [['sh', '-c', script(60)]] });
    await writeFile(path.join(roomOf(desktops.paths, desktop.id).home, 'go'), '');
    await eventually(() => assert.ok(exitingPids(desktop.pid!).length > 0, 'a process of the tree half-way out'), 20_000);
    const t0 = performance.now();
    await assert.rejects(desktops.checkpoint(desktop.id), (e: unknown) => {
      assert.ok(e instanceof FreezeframeError && e.code === 'criu', String(e));
      assert.match(e.message, /Zombies with threads are not supported/);
      return true;
    });
    const ms = performance.now() - t0;
    // One wait of 5 s for the exit (operations/checkpoint.ts exitingWaitMs), not one per attempt (10 s and more).
    assert.ok(ms > 5_000 && ms < 10_000, `failed after ${ms.toFixed(0)} ms`);
    assert.equal((await desktops.get(desktop.id)).state, 'running');
    const [failed] = await desktops.checkpoints(desktop.id);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.retried, undefined, 'not tried again');
    await desktops.stop(desktop.id);
  });
});
