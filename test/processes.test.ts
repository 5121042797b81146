// Process identity and reaping: only the desktop roots this process adopted are reaped, never another child.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { adoptOrphans, adoptRoot, identify, treeIdentities, waitForExit } from '../server/desktops/processes';
import { eventually } from './support/eventually';

/** A zombie child of this process that node's own child handling knows nothing of, like an exited desktop root. */
async function orphanZombie(): Promise<number> {
  assert.ok(adoptOrphans(), 'this process is a subreaper (native/reaper.node is built)');
  // sh exits at once; its background sleep is adopted by this process and dies a moment later.
  const pid = Number(execFileSync('sh', ['-c', 'sleep 0.05 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' }).trim());
  await eventually(async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(state, 'Z');
    assert.equal(Number(ppid), process.pid);
  }, 5_000);
  return pid;
}

async function reapAsRoot(pid: number): Promise<void> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  adoptRoot({ pid, startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] });
  assert.equal(await identify(pid), undefined);
  assert.equal(await exists(pid), false, 'the root is reaped');
}

const exists = (pid: number) => readFile(`/proc/${pid}/stat`).then(() => true, () => false);

describe('reaping', () => {
  test('identify() takes no exit status but a registered root\'s (criu, run by execa, waits for its own)', async () => {
    const pid = await orphanZombie();
    assert.equal(await identify(pid), undefined, 'a zombie is not alive');
    assert.ok(await exists(pid), 'the zombie is left to whoever waits for it');
    await reapAsRoot(pid);
  });

  test('a registered desktop root is reaped once dead (a PID 1 that never reaps would keep it a zombie)', async () => {
    await reapAsRoot(await orphanZombie());
  });
});

describe('waiting for a tree to end', () => {
  test('a process given by its identity: alive while its PID is still it; gone once its PID names another process', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const [me] = await treeIdentities(sleeper.pid!);
      assert.equal(me.pid, sleeper.pid);
      // Still the same process: a survivor at the deadline.
      assert.deepEqual(await waitForExit([me], 50), [me]);
      // The same PID with another start time stands for a process that ended and whose PID the kernel gave again: no
      // survivor of the tree, never one to kill (by PID alone it would be).
      const reused = { pid: me.pid, startTime: String(Number(me.startTime) + 1) };
      assert.deepEqual(await waitForExit([reused], 50), []);
      assert.deepEqual(await waitForExit([me.pid], 50), [me.pid], 'by PID alone it is taken for a survivor');
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});
