// At server start, the namespaces no desktop needs are forgotten (a server killed between a stop's steps left one;
// a desktop removed by hand left another), and a running desktop's namespace is kept: real engine, real `ip netns`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Engine } from '../server/engine';
import { netnsPrefix, roomOf } from '../server/desktops/rooms';
import { withEngine } from './support/engineFixture';

const run = promisify(execFile);
const exists = (file: string) => access(file).then(() => true, () => false);
let engine: Engine;
let dispose: () => Promise<void>;
before(async () => ({ engine, dispose } = await withEngine('210-214')));
after(async () => dispose());

test('a sweep forgets the namespaces of stopped and unknown desktops and keeps a running one\'s', async () => {
  const paths = engine.desktops.paths;
  const running = await engine.desktops.start({ geometry: '640x480', apps: ['xclock'] });
  const stopped = await engine.desktops.start({ geometry: '640x480', apps: ['xclock'] });
  await engine.desktops.stop(stopped.id);
  const stoppedRoom = roomOf(paths, stopped.id);
  assert.equal(await exists(stoppedRoom.netnsPath), false, 'a stop forgets its namespace');
  // What a server killed between the stop's steps leaves, and a namespace whose desktop is gone altogether.
  const unknown = `${netnsPrefix(paths)}0badcafe`;
  await run('ip', ['netns', 'add', stoppedRoom.netns]);
  await run('ip', ['netns', 'add', unknown]);
  try {
    const swept = await engine.desktops.sweep();
    assert.deepEqual(swept.namespaces.sort(), [stoppedRoom.netns, unknown].sort());
    assert.equal(await exists(stoppedRoom.netnsPath), false);
    assert.equal(await exists(`/run/netns/${unknown}`), false);
    assert.equal(await exists(roomOf(paths, running.id).netnsPath), true, 'the running desktop keeps its namespace');
    assert.equal((await engine.desktops.get(running.id)).state, 'running');
  } finally {
    await run('ip', ['netns', 'delete', unknown]).catch(() => {});
    await run('ip', ['netns', 'delete', stoppedRoom.netns]).catch(() => {});
  }
});
