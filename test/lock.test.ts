// The operation lock across processes: never held twice, not even when the last holder died holding it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { OperationLocks } from '../server/desktops/lock';

const contenders = 6;
const rounds = 15;

describe('operation lock', () => {
  let dir: string;
  let children: { child: ChildProcessWithoutNullStreams; lines: Interface }[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-lock-'));
    children = Array.from({ length: contenders }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', './server/runtime/register.js', 'test/support/lockContender.ts', path.join(dir, 'operation.lock'), '40']);
      return { child, lines: createInterface({ input: child.stdout }) };
    });
  });
  after(async () => {
    for (const { child } of children) child.kill();
    await rm(dir, { recursive: true, force: true });
  });

  test('processes that all find a dead holder: one gets the lock, the others are refused', async () => {
    const lockFile = path.join(dir, 'operation.lock');
    const dead = spawnSync('true').pid; // a holder that died holding the lock (a CLI killed mid-operation)
    for (let round = 0; round < rounds; round++) {
      await writeFile(lockFile, JSON.stringify({ pid: dead, op: 'checkpoint', since: new Date().toISOString() }));
      const answers = children.map(({ lines }) => new Promise<string>((resolve) => lines.once('line', resolve)));
      for (const { child } of children) child.stdin.write('go\n');
      const held = (await Promise.all(answers))
        .filter((a) => a.startsWith('enter'))
        .map((a) => a.split(' ').map(Number))
        .map(([, enter, , leave]) => ({ enter, leave }))
        .sort((a, b) => a.enter - b.enter);
      assert.ok(held.length >= 1, `round ${round}: a dead holder holds nothing`);
      for (let i = 1; i < held.length; i++) {
        assert.ok(held[i].enter >= held[i - 1].leave, `round ${round}: two processes held the lock at once (${JSON.stringify(held)})`);
      }
    }
  });

  test('a failed operation has let go of the desktop by the time its caller hears of it', async () => {
    const locks = new OperationLocks((id) => path.join(dir, `${id}.lock`));
    await assert.rejects(locks.runThen('d', 'checkpoint', async () => { throw new Error('criu dump failed'); }), /criu dump failed/);
    assert.equal(locks.isBusy('d'), false, 'still busy after the failure was handed back');
    // A Stop clicked at once, in this process.
    assert.equal(await locks.run('d', 'stop', async () => 'stopped'), 'stopped');
  });
});
