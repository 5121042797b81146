// A desktop is dumped whatever the host has mounted: `ip netns add` (or a container engine) bind-mounts namespace
// files under /run/netns, every new mount namespace copies them, and criu cannot dump those ("doesn't have a proper
// root mount"). newns detaches them from the desktop's view.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Engine } from '../server/engine';
import { withEngine } from './support/engineFixture';

const run = promisify(execFile);
const namespace = `ff-test-${randomBytes(3).toString('hex')}`;
let engine: Engine;
let dispose: () => Promise<void>;

before(async () => {
  await run('ip', ['netns', 'add', namespace]);
  ({ engine, dispose } = await withEngine('40-44'));
});

after(async () => {
  await dispose?.();
  await run('ip', ['netns', 'delete', namespace]).catch(() => {});
});

test('with a network namespace file mounted on the host, a desktop still dumps and restores', async () => {
  const hostMounts = await readFile('/proc/self/mountinfo', 'utf8');
  assert.ok(hostMounts.includes(`/run/netns/${namespace} `), 'the host has the namespace file mounted');
  const desktop = await engine.desktops.start({ geometry: '640x480', apps: ['xclock'] });
  const mounts = await readFile(`/proc/${desktop.pid}/mountinfo`, 'utf8');
  assert.ok(!/ - nsfs /.test(mounts), `no namespace file in the desktop's mounts:\n${mounts}`);
  const { checkpoint } = await engine.desktops.checkpoint(desktop.id);
  assert.equal(checkpoint.state, 'complete');
  const { desktop: restored } = await engine.desktops.restore(checkpoint.id);
  assert.equal(restored.state, 'running');
});
