// A home-base in an archive (server/checkpoints/homeArchive.ts): staged as plain files and folders with its links
// listed, the links made again only inside real folders of home-base; hostile lists refused, nothing made through
// a link.
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { homeLinkViolation, restoreHomeLinks, stageHomeBase } from '../server/checkpoints/homeArchive';
import { FreezeframeError } from '../server/errors';

let scratch: string;
before(async () => (scratch = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-home-archive-'))));
after(async () => rm(scratch, { recursive: true, force: true }));

test('staged: files hard-linked, folders with their modes, links listed, sockets left out; made again on import', async () => {
  const base = path.join(scratch, 'base');
  await mkdir(path.join(base, '.mozilla', 'profile'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(base, 'typed'), 'before\n');
  await writeFile(path.join(base, '.mozilla', 'profile', 'prefs.js'), 'x');
  await symlink('127.0.0.1:+1234', path.join(base, '.mozilla', 'profile', 'lock'));
  const socket = net.createServer().listen(path.join(base, 'app.sock'));
  await new Promise((resolve) => socket.once('listening', resolve));
  try {
    const staged = path.join(scratch, 'staged');
    await mkdir(staged);
    assert.deepEqual(await stageHomeBase(base, staged), { files: 2, links: 1 });
    assert.equal((await lstat(path.join(staged, 'home-base', 'typed'))).ino, (await lstat(path.join(base, 'typed'))).ino, 'a hard link');
    assert.equal((await lstat(path.join(staged, 'home-base', '.mozilla'))).mode & 0o777, 0o700);
    assert.deepEqual((await readdir(path.join(staged, 'home-base'))).sort(), ['.mozilla', 'typed'], 'no socket');
    assert.deepEqual(JSON.parse(await readFile(path.join(staged, 'home-links.json'), 'utf8')), [{ path: 'home-base/.mozilla/profile/lock', target: '127.0.0.1:+1234' }]);
    await assert.rejects(lstat(path.join(staged, 'home-base', '.mozilla', 'profile', 'lock')), /ENOENT/, 'no link staged');

    assert.equal(await restoreHomeLinks(staged), 1);
    assert.equal(await readlink(path.join(staged, 'home-base', '.mozilla', 'profile', 'lock')), '127.0.0.1:+1234');
    await assert.rejects(lstat(path.join(staged, 'home-links.json')), /ENOENT/, 'the list is gone, the folder a checkpoint\'s own');
    assert.equal(await restoreHomeLinks(staged), 0, 'an archive without links');
  } finally {
    socket.close();
  }
});

test('hostile link lists are refused: outside home-base, dot segments, through a link made before', async () => {
  for (const [entry, why] of [
    [{ path: '../etc/x', target: 'y' }, 'not a path under home-base/'],
    [{ path: 'home-base/../images/x', target: 'y' }, 'not a path under home-base/'],
    [{ path: 'home-base', target: 'y' }, 'not a path under home-base/'],
    [{ path: 'home-base//x', target: 'y' }, 'not a path under home-base/'],
    [{ path: 'home-base/x', target: '' }, 'no usable target'],
    [{ path: 'home-base/x' }, 'without path and target'],
  ] as const) {
    assert.match(homeLinkViolation(entry) ?? 'accepted', new RegExp(why), JSON.stringify(entry));
  }
  assert.equal(homeLinkViolation({ path: 'home-base/a b/.lock', target: '/anything' }), undefined);

  const dir = path.join(scratch, 'hostile');
  await mkdir(path.join(dir, 'home-base'), { recursive: true });
  const outside = path.join(scratch, 'outside');
  await mkdir(outside);
  await writeFile(path.join(dir, 'home-links.json'), JSON.stringify([
    { path: 'home-base/a', target: outside },
    { path: 'home-base/a/planted', target: '/etc/shadow' },
  ]));
  await assert.rejects(restoreHomeLinks(dir), (e: unknown) => e instanceof FreezeframeError && e.code === 'invalid' && /home-base\/a\/planted is not in a folder of home-base/.test(e.message));
  assert.deepEqual(await readdir(outside), [], 'nothing made through the link');
});
