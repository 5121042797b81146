// One uid per self-contained desktop (issue #12), with real newns, Xvnc and criu: a uid with no entry on the host,
// named inside by a generated /etc/passwd bound in the desktop's mount namespace; desktops cannot signal or read
// each other; dump and restore keep the ids, the name and the viewer's connection.
import assert from 'node:assert/strict';
import { chown, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { execa } from 'execa';
import { treePids } from '../server/desktops/processes';
import { inside } from '../server/sandbox/layout';
import { insideUserName, writeDesktopPasswd } from '../server/sandbox/passwd';
import { containedSuite, criuDump, criuRestore, makeRoom, startContained, treeComms, viewerIn, type Room } from './support/containedDesktop';

const testTimeoutMs = 120_000;
const apps = ['3', 'xclock', '-update', '1', '1', 'xterm'];
const programs = ['Xvnc', 'icewm', 'xclock', 'xterm', 'bash'];
// A range no distribution hands out (useradd stops at 60000, subordinate ranges start at 100000 in steps of 65536).
const firstUid = 2_000_000 + (process.pid % 10_000) * 10;

async function ids(pid: number): Promise<string[]> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return ['Uid', 'Gid'].map((f) => status.split('\n').find((l) => l.startsWith(`${f}:`))!.split(/\s+/).slice(1).join(' '));
}

async function assertRunsAs(rootPid: number, uid: number): Promise<void> {
  await treeComms(rootPid, programs);
  for (const pid of await treePids(rootPid)) {
    assert.deepEqual(await ids(pid), [`${uid} ${uid} ${uid} ${uid}`, `${uid} ${uid} ${uid} ${uid}`], `process ${pid}`);
  }
}

/** What `getent passwd UID` and `whoami` (as the desktop's uid) say in the desktop's mount namespace. */
async function nameInside(rootPid: number, uid: number): Promise<{ entry: string; whoami: string }> {
  const entry = await execa('nsenter', ['-t', String(rootPid), '-m', 'getent', 'passwd', String(uid)], { reject: false });
  const whoami = await execa('nsenter', ['-t', String(rootPid), '-m', '-S', String(uid), '-G', String(uid), 'whoami'], { reject: false });
  return { entry: String(entry.stdout).trim(), whoami: String(whoami.stdout).trim() };
}

describe('a uid of its own per desktop', { timeout: testTimeoutMs * 3 }, () => {
  const suite = containedSuite();
  const { trees, viewers } = suite;
  const rooms: { room: Room; uid: number; pid: number }[] = [];


  test('two desktops, two uids without a host entry, each named inside', { timeout: testTimeoutMs }, async () => {
    for (const uid of [firstUid, firstUid + 1]) {
      const host = await execa('getent', ['passwd', String(uid)], { reject: false });
      assert.equal(host.exitCode, 2, `uid ${uid} has no entry on the host`);
      const owner = { uid, gid: uid };
      const room = await makeRoom(suite.dir, owner);
      room.passwdFile = path.join(suite.dir, `passwd-${uid}`);
      room.groupFile = path.join(suite.dir, `group-${uid}`);
      await writeDesktopPasswd(owner, room.passwdFile, room.groupFile);
      await chown(room.homeDir, uid, uid);
      const pid = await startContained(room, apps, { ids: owner, user: insideUserName });
      trees.push(pid);
      rooms.push({ room, uid, pid });
      await assertRunsAs(pid, uid);
      assert.deepEqual(await nameInside(pid, uid), { entry: `${insideUserName}:x:${uid}:${uid}:Freezeframe desktop:${inside.home}:/bin/bash`, whoami: insideUserName });
      const bash = (await treeComms(pid, programs)).get('bash')!;
      assert.match(await readFile(`/proc/${bash}/environ`, 'utf8'), new RegExp(`\\0USER=${insideUserName}\\0`));
    }
    // As one desktop's uid, the other's processes can neither be signalled nor read.
    const [a, b] = rooms;
    const asA = ['--reuid', String(a.uid), '--regid', String(a.uid), '--clear-groups'];
    const kill = await execa('setpriv', [...asA, 'kill', '-0', String(b.pid)], { reject: false });
    assert.notEqual(kill.exitCode, 0);
    assert.match(String(kill.stderr), /Operation not permitted/);
    const read = await execa('setpriv', [...asA, 'cat', `/proc/${b.pid}/environ`], { reject: false });
    assert.match(String(read.stderr), /Permission denied/);
  });

  test('dump and restore keep the uid, the name inside and the viewer\'s connection', { timeout: testTimeoutMs }, async () => {
    const { room, uid, pid } = rooms[0];
    const viewer = await viewerIn(room);
    viewers.push(viewer);
    await viewer.nextUpdate(5_000);
    const imagesDir = path.join(suite.dir, 'images');
    await criuDump(pid, room, imagesDir);
    const restored = await criuRestore(room, imagesDir, 'restore.log', { keepConnections: true });
    trees.push(restored.pid);
    await assertRunsAs(restored.pid, uid);
    assert.deepEqual(await nameInside(restored.pid, uid), { entry: `${insideUserName}:x:${uid}:${uid}:Freezeframe desktop:${inside.home}:/bin/bash`, whoami: insideUserName });
    const count = viewer.updates;
    await viewer.nextUpdate(5_000);
    assert.ok(viewer.updates > count && !viewer.closed, 'the viewer gets updates again on its connection after the restore');
  });
});
