// Storage against real criu: checkpoints of one desktop share their pages (and restore from them), the retention
// policy runs after each checkpoint (pinned and frozen-at kept), exports are whole and zstd, and a stopped desktop
// is removed with everything it had.
import assert from 'node:assert/strict';
import { access, readdir, readlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import type { DesktopEvent } from '../server/desktops/events';
import { FreezeframeError } from '../server/errors';
import { diskBytes } from '../server/storage/checkpointFiles';
import { withEngine } from './support/engineFixture';

const exists = (p: string) => access(p).then(() => true, () => false);

describe('checkpoint storage', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  const events: DesktopEvent[] = [];
  before(async () => {
    ({ engine, dispose } = await withEngine('236-239', { FREEZEFRAME_SHARE_PAGES: '1' }));
    engine.desktops.on('event', (e) => events.push(e));
  });
  after(() => dispose());

  test('pages shared with a base; keep-last-N after each checkpoint, pinned and frozen-at kept; a shared checkpoint restores after its base went', async () => {
    const { desktops } = engine;
    const paths = desktops.paths;
    const desktop = await desktops.start({});
    const first = (await desktops.checkpoint(desktop.id)).checkpoint;
    assert.equal(first.base, undefined, 'the first checkpoint is whole');
    assert.ok(first.storedBytes! >= first.imageBytes!, `${first.storedBytes} of ${first.imageBytes}`);
    await desktops.pin(first.id, true);
    await desktops.restore(first.id);
    await desktops.setRetention(desktop.id, { keepLast: 2 });

    const made = [first.id];
    for (let n = 0; n < 4; n++) {
      const { checkpoint, tidied } = await desktops.checkpoint(desktop.id);
      made.push(checkpoint.id);
      assert.ok(checkpoint.base, `checkpoint ${n + 2} shares pages with a base`);
      // Shared only when it takes at most half (dedup.ts); measured 10-30 % here (bench/results/storage.md).
      assert.ok(checkpoint.storedBytes! <= checkpoint.imageBytes! / 2, `stored ${checkpoint.storedBytes} of ${checkpoint.imageBytes}`);
      assert.equal(await readlink(path.join(paths.checkpointImages(checkpoint.id), 'parent')), `../../${checkpoint.base}/images`);
      const left = (await desktops.checkpoints(desktop.id)).map((c) => c.id);
      // The pinned first one, and the last two.
      assert.deepEqual(left, [first.id, ...made.slice(1).slice(-2)], `after checkpoint ${n + 2}`);
      if (n >= 2) {
        assert.deepEqual(tidied?.removed, [made.at(-3)]);
        assert.ok(events.some((e) => e.type === 'pruned' && e.removed?.includes(made.at(-3)!)), 'the page hears of it');
      }
      await desktops.restore(checkpoint.id);
    }

    // Frozen at the newest: keep-last-1 now removes all but it and the pinned one.
    const frozen = (await desktops.checkpoint(desktop.id)).checkpoint;
    const tidied = await desktops.setRetention(desktop.id, { keepLast: 1 });
    assert.ok(tidied.bytesFreed > 0 && tidied.removed.length === 1, JSON.stringify(tidied.removed));
    assert.deepEqual((await desktops.checkpoints(desktop.id)).map((c) => c.id), [first.id, frozen.id]);
    // Its base (the first is pinned, so the base is another whole one or the first) is on disk for it.
    const base = frozen.base!;
    assert.ok(await exists(path.join(paths.checkpointImages(base), 'inventory.img')), 'the base images stay while read from');
    const restored = await desktops.restore(frozen.id);
    assert.equal(restored.desktop.state, 'running');
    assert.equal(restored.desktop.lastCheckpoint, frozen.id);

    // A shared checkpoint exports whole: no link, every page in the archive.
    const file = path.join(os.tmpdir(), `ff-storage-${frozen.id}.tar.zst`);
    const exported = await desktops.exportCheckpoint(frozen.id, file);
    assert.ok(exported.bytes <= frozen.imageBytes! / 2, `export ${exported.bytes} of images ${frozen.imageBytes}`);

    // Unpinned and deleted, nothing reads the base any more: it goes too.
    await desktops.stop(desktop.id);
    await desktops.pin(first.id, false);
    await desktops.deleteCheckpoint(frozen.id);
    if (base !== first.id) assert.equal(await exists(paths.checkpointDir(base)), false, 'an unread base is collected');
    // The archive brings it back whole, and it restores without any base.
    const imported = await desktops.importCheckpoint(file);
    assert.equal(imported.checkpoint.id, frozen.id);
    assert.equal(await exists(path.join(paths.checkpointImages(frozen.id), 'parent')), false);
    assert.equal((await desktops.restore(frozen.id)).desktop.state, 'running');
    await desktops.stop(desktop.id);
  });

  test('a stopped desktop is removed with its checkpoints, its folder and its display; a running one is refused', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({});
    const a = (await desktops.checkpoint(desktop.id, { leaveRunning: true })).checkpoint;
    const b = (await desktops.checkpoint(desktop.id, { leaveRunning: true })).checkpoint;
    await assert.rejects(desktops.remove(desktop.id), (e: unknown) => e instanceof FreezeframeError && e.code === 'bad_state');
    await desktops.stop(desktop.id);
    const onDisk = (await diskBytes(desktops.paths.desktopDir(desktop.id))) + (await diskBytes(desktops.paths.checkpointDir(a.id))) + (await diskBytes(desktops.paths.checkpointDir(b.id)));
    const removed = await desktops.remove(desktop.id);
    assert.deepEqual(removed.checkpoints, [a.id, b.id]);
    // Give or take the lock file, which names the remove while it runs.
    assert.ok(Math.abs(removed.bytesFreed - onDisk) < 1024, `${removed.bytesFreed} freed of ${onDisk}`);
    assert.equal(removed.display, desktop.display);
    for (const dir of [desktops.paths.desktopDir(desktop.id), desktops.paths.checkpointDir(a.id), desktops.paths.checkpointDir(b.id)]) {
      assert.equal(await exists(dir), false, `${dir} is gone`);
    }
    assert.equal(await exists(desktops.paths.displayClaim(desktop.display)), false);
    await assert.rejects(desktops.get(desktop.id), (e: unknown) => e instanceof FreezeframeError && e.code === 'not_found');
    assert.ok(events.some((e) => e.type === 'removed' && e.desktop.id === desktop.id && e.bytesFreed === removed.bytesFreed));
    assert.deepEqual((await readdir(desktops.paths.checkpoints())).filter((n) => n === a.id || n === b.id), []);
  });
});
