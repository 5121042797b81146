// test/support/testHosts.ts's cleanup: a state folder with an overlay mounted below it (a clone's home) is unmounted
// (lazily when a process still uses it) before it is removed; rm alone went into the overlay and took minutes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { unmountBelow } from './support/testHosts';

const mounted = async (dir: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(dir + '/')).length;

test('unmountBelow: overlays below a state folder, one of them busy, are unmounted; the folder then goes at once', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-unmount-'));
  const homes = ['desktops/d-a/home', 'desktops/d-b/home'];
  for (const sub of ['lower', 'upper-a', 'work-a', 'upper-b', 'work-b', ...homes]) await mkdir(path.join(dir, sub), { recursive: true });
  for (const x of ['a', 'b']) {
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dir}/lower,upperdir=${dir}/upper-${x},workdir=${dir}/work-${x}`, path.join(dir, `desktops/d-${x}/home`)]);
  }
  // A process inside one of them: a plain umount says busy.
  const busy = spawn('sleep', ['60'], { cwd: path.join(dir, homes[0]), stdio: 'ignore' });
  await once(busy, 'spawn');
  try {
    assert.equal(await mounted(dir), 2, 'two overlays below the folder');
    const started = performance.now();
    await unmountBelow(dir);
    assert.equal(await mounted(dir), 0, 'nothing mounted below it any more');
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    const ms = performance.now() - started;
    await assert.rejects(stat(dir), 'the folder is gone');
    assert.ok(ms < 5_000, `unmounted and removed in ${Math.round(ms)} ms`);
  } finally {
    busy.kill('SIGKILL');
    await unmountBelow(dir).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});
