// Clones (issue #12): one contained desktop's checkpoint restored as N new desktops at once, each in its own room
// (namespace, /tmp, overlay home): their pictures move, what is typed in one reaches no other, each has checkpoints.
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Engine } from '../server/engine';
import { roomOf } from '../server/desktops/rooms';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';
import { clickAt, connectViewer, typeLine } from './support/viewer';

let engine: Engine;
let dispose: () => Promise<void>;
before(async () => ({ engine, dispose } = await withEngine('200-209')));
after(async () => dispose());

const exists = (file: string) => access(file).then(() => true, () => false);

test('a checkpoint cloned twice: two independent desktops, each moving, typing and checkpointed on its own', async () => {
  const { desktops } = engine;
  const original = await desktops.start({ geometry: '640x480', apps: ['xterm', 'xclock'] });
  const { checkpoint } = await desktops.checkpoint(original.id);
  assert.equal(checkpoint.homeBase, true, 'the home was copied at the dump');

  const cloned = await desktops.clone(checkpoint.id, { count: 2 });
  assert.deepEqual(cloned.failed, []);
  assert.equal(cloned.desktops.length, 2);
  const [a, b] = cloned.desktops;
  assert.notEqual(a.id, b.id);
  for (const d of cloned.desktops) {
    assert.equal(d.state, 'running');
    assert.equal(d.homeBase, checkpoint.id);
  }
  // The original still comes back from the same checkpoint, its viewers' connections kept, while the clones run.
  await desktops.restore(checkpoint.id);

  const views = await Promise.all([original, a, b].map((d) => connectViewer(desktops, d, { password: d.vncPassword })));
  for (const view of views) await view.nextUpdate(10_000); // every picture moves (xclock)

  // Typed into a's xterm: a file in a's home only; b, the original and the checkpoint's base copy have none.
  const [, viewA] = views;
  const home = (id: string) => roomOf(desktops.paths, id).home;
  // Typed again (each time a whole line with its Enter) until the file shows: under load the first keys can reach
  // xterm before its window takes them (the file never came within 15 s once in CI).
  for (let attempt = 1; ; attempt++) {
    clickAt(viewA, 120, 120);
    typeLine(viewA, 'echo from-a > /home/desktop/typed');
    try {
      await eventually(async () => assert.equal(await readFile(path.join(home(a.id), 'typed'), 'utf8'), 'from-a\n'), 8_000);
      break;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
  assert.equal(await exists(path.join(home(b.id), 'typed')), false, 'b never sees a\'s write');
  assert.equal(await exists(path.join(home(original.id), 'typed')), false, 'nor does the original');
  assert.equal(await exists(path.join(desktops.paths.checkpointHomeBase(checkpoint.id), 'typed')), false, 'nor the base');

  // A clone has checkpoints of its own, which restore into it (its home's overlay mounted again after a stop).
  const ofA = await desktops.checkpoint(a.id);
  assert.equal(ofA.checkpoint.desktop, a.id);
  await desktops.stop(a.id);
  const back = await desktops.restore(ofA.checkpoint.id);
  assert.equal(back.desktop.state, 'running');
  assert.equal(await readFile(path.join(home(a.id), 'typed'), 'utf8'), 'from-a\n', 'its own writes are still there');
  const again = await connectViewer(desktops, back.desktop, { password: a.vncPassword });
  await again.nextUpdate(10_000);
  for (const view of [...views, again]) view.close();
});

test('only a complete checkpoint of a contained desktop is cloned; bad counts are refused', async () => {
  const { desktops } = engine;
  await assert.rejects(desktops.clone('c-00000000'), /not_found|no checkpoint|not found/i);
  const d = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
  const { checkpoint } = await desktops.checkpoint(d.id);
  await assert.rejects(desktops.clone(checkpoint.id, { count: 0 }), /count must be 1 to 16/);
  await assert.rejects(desktops.clone(checkpoint.id, { count: 17 }), /count must be 1 to 16/);
});
