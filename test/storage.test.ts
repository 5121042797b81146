// Storage against real criu: checkpoints of one desktop share their pages (and restore from them), the newest whole,
// the retention policy runs after each checkpoint (pinned and frozen-at kept), exports are whole and zstd, a crash in
// the middle of a sharing leaves a restorable checkpoint, and a stopped desktop is removed with everything it had.
import assert from 'node:assert/strict';
import { access, appendFile, chown, lstat, readdir, readFile, readlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import type { DesktopEvent } from '../server/desktops/events';
import { FreezeframeError } from '../server/errors';
import { diskBytes } from '../server/storage/checkpointFiles';
import { recoverImages, shareWithBase } from '../server/storage/dedup';
import { logTailBytes, readLog } from '../server/storage/logs';
import { treePids } from '../server/desktops/processes';
import type { DesktopRecord } from '../server/desktops/records';
import { roomOf } from '../server/desktops/rooms';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';
import { connectViewer } from './support/viewer';

const exists = (p: string) => access(p).then(() => true, () => false);

/** The tree's PIDs as its own PID namespace numbers them (NSpid's last field): what criu restores. */
async function namespacePids(root: number): Promise<number[]> {
  const pids = await treePids(root);
  const inner = await Promise.all(pids.map(async (pid) => Number(/^NSpid:.*\s(\d+)\s*$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1])));
  return inner.sort((a, b) => a - b);
}

/** A new viewer of the desktop sees its picture move (xclock redraws each second). */
async function pictureMoves(engine: Engine, desktop: DesktopRecord): Promise<void> {
  const client = await connectViewer(engine.desktops, desktop, { password: desktop.vncPassword });
  try {
    await client.nextUpdate(10_000);
    await client.nextUpdate(10_000);
  } finally {
    client.close();
  }
}

describe('checkpoint storage', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  const events: DesktopEvent[] = [];
  before(async () => {
    ({ engine, dispose } = await withEngine('150-155'));
    engine.desktops.on('event', (e) => events.push(e));
  });
  after(() => dispose());

  test('keep-last-N after each checkpoint, pinned and frozen-at kept; the newest whole, the one before it shared with the first', async () => {
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
      assert.equal(checkpoint.base, undefined, `checkpoint ${n + 2}, the newest, is whole`);
      assert.equal(await exists(path.join(paths.checkpointImages(checkpoint.id), 'parent')), false, 'no parent link for the newest');
      const left = await desktops.checkpoints(desktop.id);
      // The pinned first one, and the last two.
      assert.deepEqual(left.map((c) => c.id), [first.id, ...made.slice(1).slice(-2)], `after checkpoint ${n + 2}`);
      if (n >= 1) {
        // Now that a newer one exists, the one before shares its pages with the first, which stays whole.
        const previous = left.find((c) => c.id === made.at(-2))!;
        assert.equal(previous.base, first.id, `checkpoint ${n + 1} shares with the first`);
        assert.equal(await readlink(path.join(paths.checkpointImages(previous.id), 'parent')), `../../${first.id}/images`);
        // Measured ~0.7 MB of ~38 MB of images (bench/results/storage.md).
        assert.ok(previous.storedBytes! <= previous.imageBytes! / 10, `stored ${previous.storedBytes} of ${previous.imageBytes}`);
      }
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
    const restored = await desktops.restore(frozen.id);
    assert.equal(restored.desktop.state, 'running');
    assert.equal(restored.desktop.lastCheckpoint, frozen.id);

    const file = path.join(os.tmpdir(), `ff-storage-${frozen.id}.tar.zst`);
    const exported = await desktops.exportCheckpoint(frozen.id, file);
    assert.ok(exported.bytes <= frozen.imageBytes! / 2, `export ${exported.bytes} of images ${frozen.imageBytes}`);
    await desktops.stop(desktop.id);
    await desktops.pin(first.id, false);
    await desktops.deleteCheckpoint(frozen.id);
    const imported = await desktops.importCheckpoint(file);
    assert.equal(imported.checkpoint.id, frozen.id);
    assert.equal((await desktops.restore(frozen.id)).desktop.state, 'running');
    await desktops.stop(desktop.id);
  });

  test('older checkpoints shared and packed restore (eagerly, lazily, as a clone) with the same PIDs and a moving picture; a deleted base stays for its dependents; an export of one stands alone', { timeout: 300_000 }, async () => {
    const { desktops } = engine;
    const paths = desktops.paths;
    const desktop = await desktops.start({});
    await pictureMoves(engine, desktop);
    // A file in its home: copied into each checkpoint's home-base, the same bytes each time.
    const note = path.join(roomOf(paths, desktop.id).home, 'notes.txt');
    await writeFile(note, 'the same words at every checkpoint\n'.repeat(1000));
    await chown(note, desktop.uid!, desktop.gid!);
    // A long log (a desktop that ran for days): each checkpoint keeps its tail, and the live log's head is freed.
    const log = roomOf(paths, desktop.id).log;
    await appendFile(log, 'a line the desktop wrote long ago, of no use to a restore\n'.repeat(8000));
    const logBytes = (await lstat(log)).size;
    assert.ok(logBytes > 4 * logTailBytes, `a long log: ${logBytes} bytes`);
    // Snapshots: the desktop runs on between them, its tree as it was dumped (xterm's shell starts a moment after
    // the desktop).
    const made = [(await desktops.checkpoint(desktop.id, { leaveRunning: true })).checkpoint.id];
    const pids = await namespacePids(desktop.pid!);
    for (let n = 1; n < 4; n++) made.push((await desktops.checkpoint(desktop.id, { leaveRunning: true })).checkpoint.id);
    assert.deepEqual(await namespacePids(desktop.pid!), pids, 'the same tree through the snapshots');
    const records = new Map((await desktops.checkpoints(desktop.id)).map((c) => [c.id, c]));
    const [c1, c2, c3, c4] = made.map((id) => records.get(id)!);
    assert.equal(c1.base, undefined, 'the first is whole, the base');
    assert.equal(c1.shareLater, undefined, 'for good');
    assert.equal(c4.base, undefined, 'the newest is whole');
    assert.equal(c4.shareLater, true, 'until a newer one exists');
    for (const c of [c2, c3]) {
      assert.equal(c.base, c1.id, `${c.id} shares with the first`);
      // Its own pages gzipped beside its images (storage/packedPages.ts), none left in images/.
      assert.deepEqual((await readdir(paths.checkpointImages(c.id))).filter((n) => /^pages-/.test(n)), [], `${c.id}: pages packed`);
      assert.ok((await readdir(path.join(paths.checkpointDir(c.id), 'packed'))).length > 0, `${c.id}: packed/ holds them`);
    }
    for (const c of [c1, c4]) assert.equal(await exists(path.join(paths.checkpointDir(c.id), 'packed')), false, `${c.id} is whole: nothing packed`);
    // The home copies share the unchanged file: one inode for the four.
    const notes = await Promise.all([c1, c2, c3, c4].map((c) => lstat(path.join(paths.checkpointHomeBase(c.id), 'notes.txt'))));
    assert.ok(notes.every((n) => n.ino === notes[0].ino) && notes[0].nlink === 4, `home-base/notes.txt: inodes ${notes.map((n) => n.ino)}, ${notes[0].nlink} links`);
    for (const c of [c1, c2, c3, c4]) {
      const dir = paths.checkpointDir(c.id);
      // criu's log gzipped once sealed, and still read as text.
      assert.equal(await exists(path.join(dir, 'dump.log')), false, `${c.id}: dump.log packed`);
      assert.match((await readLog(path.join(dir, 'dump.log')))!, /Dumping finished successfully/);
      // The desktop log's copy: its full size, its tail only on disk.
      const copy = await lstat(paths.checkpointDesktopLog(c.id));
      assert.ok(copy.size >= logBytes && copy.blocks * 512 <= logTailBytes + 8192, `${c.id}: desktop.log takes ${copy.blocks * 512} bytes for ${copy.size}`);
    }
    // The live log: its size (the tree appends at its end), its head freed.
    const live = await lstat(log);
    assert.ok(live.size >= logBytes && live.blocks * 512 <= logTailBytes + 16 * 1024, `the live log takes ${live.blocks * 512} bytes for ${live.size}`);
    // Inspected, a shared and packed one shows its processes as the newest does (argv read from its parent's pages).
    const [older, newer] = await Promise.all([desktops.inspect(c2.id), desktops.inspect(c4.id)]);
    assert.deepEqual(older.processes.map((p) => p.cmdline), newer.processes.map((p) => p.cmdline), 'the same command lines');
    assert.ok(older.processes.every((p) => p.cmdline.length > 0), `every command line read: ${JSON.stringify(older.processes.map((p) => p.cmdline))}`);
    // The detail page's log tails read the packed logs.
    const { checkpointDetail } = await import('../server/api/views');
    assert.ok((await checkpointDetail(engine, c2.id)).dumpLog?.lines.some((l) => /Dumping finished successfully/.test(l)), 'the dump log tail of a packed log');

    const restoreAndCheck = async (id: string, options: { lazy?: boolean } = {}) => {
      await desktops.stop(desktop.id);
      const restored = await desktops.restore(id, options);
      assert.equal(restored.desktop.state, 'running', `${id} restored`);
      assert.deepEqual(await namespacePids(restored.desktop.pid!), pids, `${id}: the same PIDs`);
      await pictureMoves(engine, restored.desktop);
      return restored;
    };
    await restoreAndCheck(c4.id);
    await restoreAndCheck(c2.id);
    // A restore's log, packed at the next tidying, read as text.
    await desktops.tidy(desktop.id);
    assert.equal(await exists(paths.checkpointRestoreLog(c2.id, 1)), false, 'the restore log packed');
    assert.match((await readLog(paths.checkpointRestoreLog(c2.id, 1)))!, /Restore finished successfully/);
    assert.ok((await readdir(path.join(paths.checkpointDir(c2.id), 'packed'))).length > 0, 'packed again after its restore');
    // Lazily: the pages its parent holds are read at the restore, the rest sent by the daemon.
    const lazy = await restoreAndCheck(c3.id, { lazy: true });
    assert.ok(lazy.checkpoint.restores.at(-1)!.command.includes('--lazy-pages'), 'a lazy restore');
    await eventually(async () => assert.equal((await desktops.get(desktop.id)).fetching, undefined, 'every page sent'), 60_000);
    assert.equal((await desktops.getCheckpoint(c3.id)).restores.at(-1)!.lazy?.ok, true, 'the daemon ended well');
    await pictureMoves(engine, await desktops.get(desktop.id));

    // A clone of a shared checkpoint.
    const cloned = await desktops.clone(c2.id);
    assert.deepEqual(cloned.failed, []);
    assert.deepEqual(await namespacePids(cloned.desktops[0].pid!), pids, 'the clone has the same PIDs');
    await pictureMoves(engine, cloned.desktops[0]);
    await desktops.stop(cloned.desktops[0].id);

    // The base deleted: its record goes, its images stay while c2 and c3 read them.
    await desktops.deleteCheckpoint(c1.id);
    assert.ok(await exists(path.join(paths.checkpointImages(c1.id), 'inventory.img')), 'the base images stay while read from');
    await restoreAndCheck(c3.id);
    // An export of a shared one stands alone: restored after its base and itself are gone.
    const file = path.join(os.tmpdir(), `ff-storage-${c3.id}.tar.zst`);
    await desktops.exportCheckpoint(c3.id, file);
    await desktops.stop(desktop.id);
    await desktops.deleteCheckpoint(c2.id);
    await desktops.deleteCheckpoint(c3.id);
    assert.equal(await exists(paths.checkpointDir(c1.id)), false, 'the base goes with its last reader');
    await desktops.importCheckpoint(file);
    assert.equal(await exists(path.join(paths.checkpointImages(c3.id), 'parent')), false, 'imported whole');
    await restoreAndCheck(c3.id);
    await desktops.stop(desktop.id);
  });

  test('a sharing cut short (after writing, between the renames) leaves a checkpoint that restores', { timeout: 120_000 }, async () => {
    const { desktops } = engine;
    const paths = desktops.paths;
    const desktop = await desktops.start({});
    await pictureMoves(engine, desktop);
    const base = (await desktops.checkpoint(desktop.id, { leaveRunning: true })).checkpoint;
    // The tree as it is dumped (xterm's shell starts a moment after the desktop).
    const pids = await namespacePids(desktop.pid!);
    const whole = (await desktops.checkpoint(desktop.id)).checkpoint;
    const images = paths.checkpointImages(whole.id);
    const before = (await readdir(images)).sort();

    await assert.rejects(shareWithBase(images, base.id, { stopAfter: 'written' }), /stopped after writing/);
    assert.deepEqual((await readdir(images)).sort(), before, 'the images untouched');
    await recoverImages(images); // what the server's start does (registry.ts init)
    assert.equal(await exists(`${images}.dedup`), false, 'the half-made copy gone');
    let restored = await desktops.restore(whole.id);
    assert.deepEqual(await namespacePids(restored.desktop.pid!), pids, 'restored whole, the same PIDs');
    await pictureMoves(engine, restored.desktop);
    await desktops.stop(desktop.id);

    await assert.rejects(shareWithBase(images, base.id, { stopAfter: 'renamed' }), /between the two renames/);
    assert.equal(await exists(images), false, 'killed between the renames: no images/ for a moment');
    await recoverImages(images);
    assert.equal(await readlink(path.join(images, 'parent')), `../../${base.id}/images`, 'the shared images, finished');
    restored = await desktops.restore(whole.id);
    assert.deepEqual(await namespacePids(restored.desktop.pid!), pids, 'restored shared, the same PIDs');
    await pictureMoves(engine, restored.desktop);
    await desktops.stop(desktop.id);
    // It is its desktop's newest: the next tidying makes it whole again (as a delete of the newer ones would).
    await desktops.tidy(desktop.id);
    const again = await desktops.getCheckpoint(whole.id);
    assert.equal(again.base, undefined, 'whole again');
    assert.equal(again.shareLater, true);
    assert.equal(await exists(path.join(images, 'parent')), false, 'no parent link');
    restored = await desktops.restore(whole.id);
    assert.deepEqual(await namespacePids(restored.desktop.pid!), pids, 'restored whole again, the same PIDs');
    await pictureMoves(engine, restored.desktop);
    await desktops.stop(desktop.id);
  });

  test("the trust check reads what criu reads of the parent: a base whose pages file was cut short refuses its dependent's restore", { timeout: 120_000 }, async () => {
    const { desktops } = engine;
    const paths = desktops.paths;
    const desktop = await desktops.start({});
    await pictureMoves(engine, desktop);
    const base = (await desktops.checkpoint(desktop.id, { leaveRunning: true })).checkpoint;
    const shared = (await desktops.checkpoint(desktop.id, { leaveRunning: true })).checkpoint;
    await desktops.checkpoint(desktop.id);
    assert.equal((await desktops.getCheckpoint(shared.id)).base, base.id, 'shared with the first');
    const baseImages = paths.checkpointImages(base.id);
    const biggest = (await Promise.all((await readdir(baseImages)).filter((n) => /^pages-\d+\.img$/.test(n)).map(async (n) => ({ n, size: (await lstat(path.join(baseImages, n))).size }))))
      .sort((a, b) => b.size - a.size)[0];
    await truncate(path.join(baseImages, biggest.n), biggest.size - 4096);
    await assert.rejects(desktops.restore(shared.id), (e: unknown) => {
      assert.ok(e instanceof FreezeframeError && e.code === 'untrusted_images', `refused as untrusted: ${String(e)}`);
      assert.match(e.message, /parent pages file that is not what its pagemap lists/);
      return true;
    });
    // Nothing deleted by the refusal: its pages put back in its images (they are packed again at the next tidying).
    assert.ok((await readdir(paths.checkpointImages(shared.id))).some((n) => /^pages-\d+\.img$/.test(n)), 'its pages kept');
    assert.equal((await desktops.get(desktop.id)).state, 'checkpointed', 'the desktop left as it was');
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
