// Import anywhere (issue #12, part 5): a contained desktop's archive, exported by one engine, restores on a second
// engine with another state folder (and key) in the same run, while the original still runs there; its home travels
// in the archive (home-base/, signed like every file), so the restored programs find their open files and the
// imported checkpoint clones.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { publicKeyLine, trustKey } from '../server/checkpoints/keys';
import { roomOf } from '../server/desktops/rooms';
import type { Engine } from '../server/engine';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';
import { clickAt, connectViewer, typeLine } from './support/viewer';

test('an archive restores and clones under another state folder while its original runs', async () => {
  const here = await withEngine('230-239');
  const there = await withEngine('240-249');
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-anywhere-'));
  const home = (engine: Engine, id: string) => roomOf(engine.desktops.paths, id).home;
  const typed = (engine: Engine, id: string) => readFile(path.join(home(engine, id), 'typed'), 'utf8');
  try {
    const a = here.engine.desktops;
    const b = there.engine.desktops;
    assert.notEqual(a.paths.stateDir, b.paths.stateDir);

    // tee keeps /home/desktop/typed open: criu reopens it by path at restore, so the home must travel too.
    const original = await a.start({ geometry: '640x480', apps: ['xclock'], commands: [['xterm', '-geometry', '80x24+10+10', '-e', 'tee', '/home/desktop/typed']] });
    const viewA = await connectViewer(a, original, { password: original.vncPassword });
    await eventually(async () => {
      clickAt(viewA, 120, 120);
      typeLine(viewA, 'before');
      assert.match(await typed(here.engine, original.id), /^(before\n)+$/);
    }, 20_000);
    // A link and a second name of a file, as homes have them (a browser profile's lock): both travel.
    await symlink('typed', path.join(home(here.engine, original.id), 'typed-link'));
    await link(path.join(home(here.engine, original.id), 'typed'), path.join(home(here.engine, original.id), 'typed-too'));
    // A snapshot: the original runs on.
    const { checkpoint } = await a.checkpoint(original.id, { leaveRunning: true });
    assert.equal(checkpoint.homeBase, true);
    // What travels: the home at the dump (keys typed twice by the retries above may still reach the original).
    const before = await readFile(path.join(a.paths.checkpointHomeBase(checkpoint.id), 'typed'), 'utf8');
    assert.match(before, /^(before\n)+$/);

    const file = path.join(scratch, `${checkpoint.id}.tar.zst`);
    await a.exportCheckpoint(checkpoint.id, file);
    const entries = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
    assert.ok(entries.includes('./home-base/typed'), 'the home is in the archive');
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, './manifest.json'], { encoding: 'utf8' })) as { files: { path: string }[] };
    assert.ok(manifest.files.some((f) => f.path === 'home-base/typed'), 'and in the signed manifest');

    // The second installation trusts the first one's key, as an operator would (`freezeframe trust`).
    await trustKey(there.engine.config.keyDir, await publicKeyLine(here.engine.config.keyDir));
    // The home is signed like every file: one of its files or its link list changed, and the archive is refused.
    const unpacked = path.join(scratch, 'unpacked');
    await mkdir(unpacked);
    execFileSync('tar', ['-C', unpacked, '-xf', file]);
    const repack = (name: string) => {
      execFileSync('tar', ['-C', unpacked, '--zstd', '-cf', path.join(scratch, name), '.']);
      return path.join(scratch, name);
    };
    await writeFile(path.join(unpacked, 'home-base', 'typed'), 'planted\n');
    await assert.rejects(b.importCheckpoint(repack('home-changed.tar.zst')), /untrusted|home-base\/typed is not the file that was signed/);
    await writeFile(path.join(unpacked, 'home-base', 'typed'), before);
    assert.deepEqual(JSON.parse(await readFile(path.join(unpacked, 'home-links.json'), 'utf8')), [{ path: 'home-base/typed-link', target: 'typed' }]);
    await writeFile(path.join(unpacked, 'home-links.json'), JSON.stringify([{ path: 'home-base/typed-link', target: '/etc/shadow' }]));
    await assert.rejects(b.importCheckpoint(repack('links-changed.tar.zst')), /home-links\.json is not the file that was signed/);
    assert.deepEqual(await b.list(), [], 'nothing of them kept');

    const imported = await b.importCheckpoint(file);
    assert.equal(imported.checkpoint.homeBase, true);
    assert.equal(imported.desktop.state, 'stopped');
    assert.equal(await typed(there.engine, original.id), before, 'its home is the one at the dump');
    assert.equal(await readlink(path.join(home(there.engine, original.id), 'typed-link')), 'typed');
    assert.equal(await readFile(path.join(home(there.engine, original.id), 'typed-too'), 'utf8'), before);
    const owner = await stat(path.join(home(there.engine, original.id), 'typed'));
    assert.deepEqual([owner.uid, owner.gid], [imported.desktop.uid, imported.desktop.gid], 'owned by this installation\'s desktop user');

    // Restored there: the same desktop id runs twice on this machine, each in its own room, both pictures moving.
    const restored = await b.restore(checkpoint.id);
    assert.equal(restored.desktop.state, 'running');
    const viewB = await connectViewer(b, restored.desktop, { password: original.vncPassword });
    await viewB.nextUpdate(10_000);
    assert.equal((await a.get(original.id)).state, 'running', 'the original still runs');
    await viewA.nextUpdate(10_000);

    // Typed there: only there's home gets it.
    await eventually(async () => {
      clickAt(viewB, 120, 120);
      typeLine(viewB, 'there');
      assert.match(await typed(there.engine, original.id), /there\n/);
    }, 20_000);
    assert.doesNotMatch(await typed(here.engine, original.id), /there/, 'the original never sees it');

    // And the imported checkpoint clones there, over its imported home-base.
    const cloned = await b.clone(checkpoint.id, { count: 1 });
    assert.deepEqual(cloned.failed, []);
    const [clone] = cloned.desktops;
    assert.equal(clone.state, 'running');
    assert.equal(clone.homeBase, checkpoint.id);
    const viewClone = await connectViewer(b, clone, { password: clone.vncPassword });
    await viewClone.nextUpdate(10_000);
    assert.equal(await typed(there.engine, clone.id), before, 'the clone starts from the home at the dump');
    for (const view of [viewA, viewB, viewClone]) view.close();
  } finally {
    await there.dispose();
    await here.dispose();
    await rm(scratch, { recursive: true, force: true });
  }
});

test('an export asked the moment a checkpoint answers carries the home (it waits for the copy made after the reply)', async () => {
  const here = await withEngine('230-239');
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-anywhere-'));
  try {
    const a = here.engine.desktops;
    const desktop = await a.start({ geometry: '640x480', apps: ['xclock'] });
    await writeFile(path.join(roomOf(a.paths, desktop.id).home, 'kept'), 'in the home\n');
    // As the API checkpoints: the answer comes once the images are sealed; the home is copied after it.
    const { checkpoint } = await a.checkpoint(desktop.id, { replyFirst: true });
    const file = path.join(scratch, `${checkpoint.id}.tar.zst`);
    await a.exportCheckpoint(checkpoint.id, file);
    const entries = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
    assert.ok(entries.includes('./home-base/kept'), `the home is in the archive (entries: ${entries.filter((e) => !e.startsWith('./images/')).join(' ')})`);
  } finally {
    await here.dispose();
    await rm(scratch, { recursive: true, force: true });
  }
});
