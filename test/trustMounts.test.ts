// The trust check's mounts rule against a host whose mounts change: a checkpoint made here restores after the host
// unmounted something its desktop had at launch (containers, USB sticks and tests mount and unmount all the time),
// while an archive imported from elsewhere may name only mounts this machine has now.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Engine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
import { withEngine } from './support/engineFixture';

const run = promisify(execFile);
let engine: Engine;
let dispose: () => Promise<void>;
let scratch: string;
let transient: string;

before(async () => {
  ({ engine, dispose } = await withEngine('45-49'));
  // Not under /tmp: a contained desktop's tree drops the host's mounts there (its own tmpfs covers /tmp).
  scratch = await mkdtemp(path.join('/var/tmp', 'freezeframe-mounts-'));
  transient = path.join(scratch, 'transient');
  await mkdir(transient);
});

after(async () => {
  await run('umount', [transient]).catch(() => {});
  await dispose?.();
  await rm(scratch, { recursive: true, force: true });
});

test('a host mount gone since the launch: a checkpoint made here restores, the same images imported are refused', async () => {
  const { desktops, config } = engine;
  await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'freezeframe-test', transient]);
  const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
  const { checkpoint } = await desktops.checkpoint(desktop.id);
  await run('umount', [transient]);

  const restored = await desktops.restore(checkpoint.id);
  assert.equal(restored.desktop.state, 'running', 'its own launch mounts are no stranger to it');

  const { checkpoint: again } = await desktops.checkpoint(desktop.id);
  const file = path.join(scratch, 'archive.tar.gz');
  await desktops.exportCheckpoint(again.id, file);
  await desktops.stop(desktop.id);
  await desktops.deleteCheckpoint(again.id);
  // As on a machine that never had the desktop.
  await rm(path.join(config.stateDir, 'desktops', desktop.id), { recursive: true });
  await desktops.importCheckpoint(file);
  await assert.rejects(desktops.restore(again.id), (error: unknown) => {
    assert.ok(error instanceof FreezeframeError, String(error));
    assert.equal(error.code, 'untrusted_images');
    // A desktop on the host names the mount itself; a contained one names the host path criu would bind again.
    assert.match(error.message, new RegExp(`mount this machine does not have tmpfs freezeframe-test:/ on ${transient}|mount a contained desktop does not have \\? /+${transient.slice(1)}:${transient} on ${transient}`));
    return true;
  });
  assert.equal((await desktops.get(desktop.id)).state, 'stopped', 'nothing restored');
});
