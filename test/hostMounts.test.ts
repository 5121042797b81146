// A desktop is dumped whatever the host has mounted: `ip netns add` (or a container engine) bind-mounts namespace
// files under /run/netns, every new mount namespace copies them, and criu cannot dump those ("doesn't have a proper
// root mount"). newns detaches them from the desktop's view. Likewise any mount the host has below /tmp (another
// tool's overlay): a contained desktop's own tmpfs covers /tmp, and criu could not restore a mount beneath it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Engine } from '../server/engine';
import { withEngine } from './support/engineFixture';

const run = promisify(execFile);
const namespace = `ff-test-${randomBytes(3).toString('hex')}`;
let engine: Engine;
let dispose: () => Promise<void>;
let tmpMount: string;

before(async () => {
  await run('ip', ['netns', 'add', namespace]);
  tmpMount = await mkdtemp(path.join(os.tmpdir(), 'ff-hostmount-'));
  await run('mount', ['-t', 'tmpfs', 'tmpfs', tmpMount]);
  ({ engine, dispose } = await withEngine('40-44'));
});

after(async () => {
  await dispose?.();
  await run('ip', ['netns', 'delete', namespace]).catch(() => {});
  await run('umount', [tmpMount]).catch(() => {});
  await rm(tmpMount, { recursive: true, force: true });
});

test('with a network namespace file and a mount below /tmp on the host, a desktop still dumps and restores', async () => {
  const hostMounts = await readFile('/proc/self/mountinfo', 'utf8');
  assert.ok(hostMounts.includes(`/run/netns/${namespace} `), 'the host has the namespace file mounted');
  assert.ok(hostMounts.includes(` ${tmpMount} `), 'the host has a mount below /tmp');
  const desktop = await engine.desktops.start({ geometry: '640x480', apps: ['xclock'] });
  const mounts = await readFile(`/proc/${desktop.pid}/mountinfo`, 'utf8');
  assert.ok(!/ - nsfs /.test(mounts), `no namespace file in the desktop's mounts:\n${mounts}`);
  assert.ok(!mounts.includes(` ${tmpMount} `), `the host's mount below /tmp is not in the desktop's mounts:\n${mounts}`);
  const { checkpoint } = await engine.desktops.checkpoint(desktop.id);
  assert.equal(checkpoint.state, 'complete');
  const { desktop: restored } = await engine.desktops.restore(checkpoint.id);
  assert.equal(restored.state, 'running');
});
