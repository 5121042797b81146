// A dump that meets a process half-way out of its exit (its leader a zombie, a thread of it still running: criu
// refuses such a tree, "Zombies with threads are not supported") waits for that exit to end, and completes.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { exitingPids } from '../server/desktops/processes';
import { roomOf } from '../server/desktops/rooms';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

// Each time ~/go appears: a perl whose main thread leaves by exit(2) (SYS_exit, 60), not exit_group, while its other
// thread lives 4 s more: for those 4 s the process is what a Firefox content process is for a moment while it exits
// at load (a zombie leader with threads), long enough for every retry of the old fixed waits (100 and 200 ms).
const halfway = "threads->create(sub { select(undef, undef, undef, 4) })->detach; syscall(60, 0)";
const script = `while :; do if [ -e "$HOME/go" ]; then rm -f "$HOME/go"; perl -Mthreads -e '${halfway}'; fi; sleep 0.1; done`;

describe('a dump meeting a process on its way out', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('260-264')));
  after(async () => dispose());

  test('the retry waits for the exit to end, and the dump completes', { timeout: 120_000 }, async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: [], commands: [['sh', '-c', script]] });
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
});
