// Self-contained desktops (issue #12), with real newns, Xvnc and criu: a kept network namespace reached from the
// server through a socket made inside it, a private mount view at fixed paths, dump and restore with the
// viewer's TCP connection kept, and clones of one checkpoint restored at once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { runCriu } from '../server/criu/run';
import { adoptOrphans, treePids } from '../server/desktops/processes';
import { containedDumpOptions, containedRestoreOptions } from '../server/sandbox/criuFlags';
import { inside } from '../server/sandbox/layout';
import { connectInNamespace } from '../server/sandbox/netnsSocket';
import { RfbClient } from '../server/vnc/rfbClient';
import { config, forgetRooms, killTree, makeRoom, scratch, startContained, treeComms, type Room } from './support/containedDesktop';
import { eventually } from './support/eventually';

const testTimeoutMs = 120_000;
// xclock redraws its second hand every second: a live desktop sends an update within 1 s, so 5 s is conclusive.
const clockApps = ['3', 'xclock', '-update', '1'];
const updateWithinMs = 5_000;

function desktopIds(): { uid: number; gid: number } {
  const [, , uid, gid] = execFileSync('getent', ['passwd', config.desktopUser], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Inodes of the TCP sockets listening on port in the namespace whose /proc/.../net/tcp is given. */
async function listeners(netTcp: string, port: number): Promise<string[]> {
  const lines = (await readFile(netTcp, 'utf8')).split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  return lines.filter((f) => f.length > 9 && f[1].endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`) && f[3] === '0A').map((f) => f[9]);
}

async function mountinfo(pid: number): Promise<{ mountpoint: string; root: string; fstype: string }[]> {
  return (await readFile(`/proc/${pid}/mountinfo`, 'utf8')).trim().split('\n').map((line) => {
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    return { root: f[3], mountpoint: f[4], fstype: right.split(' ')[0] };
  });
}

async function criuDump(pid: number, room: Room, imagesDir: string, networkLock: 'iptables' | 'nftables', leaveRunning = false) {
  await mkdir(imagesDir, { recursive: true });
  return runCriu(config.criuPath, 'dump', {
    imagesDir, logFile: 'dump.log', logLevel: 4, tree: pid, fileLocks: true, networkLock, leaveRunning,
    ...containedDumpOptions(room.netns.inode),
  });
}

async function criuRestore(room: Room, imagesDir: string, logFile: string, keepConnections: boolean, networkLock: 'iptables' | 'nftables' = 'iptables') {
  const fd = openSync(room.netns.path, 'r');
  const pidfile = path.join(imagesDir, `${logFile}.pid`);
  try {
    const result = await runCriu(config.criuPath, 'restore', {
      imagesDir, logFile, logLevel: 4, root: '/', restoreDetached: true, pidfile, fileLocks: true,
      ...(keepConnections ? { networkLock } : {}),
      ...containedRestoreOptions({ homeDir: room.homeDir, runDir: room.runDir }, keepConnections),
    }, { inheritFds: [fd] });
    return { ...result, pid: Number((await readFile(pidfile, 'utf8')).trim()) };
  } finally {
    closeSync(fd);
  }
}

async function viewerIn(room: Room): Promise<RfbClient> {
  return RfbClient.over(await connectInNamespace(room.netns.path, inside.vncPort));
}

describe('self-contained desktops', { timeout: testTimeoutMs * 6 }, () => {
  let work: Awaited<ReturnType<typeof scratch>>;
  const trees: number[] = [];
  const viewers: RfbClient[] = [];

  before(async () => {
    adoptOrphans();
    work = await scratch();
  });
  after(async () => {
    for (const v of viewers) v.close();
    for (const pid of trees) await killTree(pid).catch(() => {});
    await forgetRooms();
    await work.dispose();
  });

  test('Xvnc listens only inside the desktop\'s network namespace; a socket made there reaches it', { timeout: testTimeoutMs }, async () => {
    const room = await makeRoom(work.dir, desktopIds());
    const pid = await startContained(room, clockApps);
    trees.push(pid);
    const xvnc = (await treeComms(pid, ['Xvnc', 'xclock'])).get('Xvnc')!;
    const inner = await eventually(async () => {
      const found = await listeners(`/proc/${xvnc}/net/tcp`, inside.vncPort);
      assert.equal(found.length, 1, 'Xvnc listens on 5901 inside');
      return found[0];
    });
    assert.ok(!(await listeners('/proc/self/net/tcp', inside.vncPort)).includes(inner), 'the host namespace has no such listener');
    assert.equal(await readlink(`/proc/${xvnc}/ns/net`), `net:[${room.netns.inode}]`);

    const socket = await connectInNamespace(room.netns.path, inside.vncPort);
    const greeting = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1'))));
    assert.match(greeting, /^RFB 003\.00\d\n$/);
    socket.destroy();
    const viewer = await viewerIn(room);
    viewers.push(viewer);
    assert.equal(viewer.name, `freezeframe:${inside.display}`);
    await viewer.nextUpdate(updateWithinMs);
  });

  test('the tree sees its own /tmp, home and run folder at fixed paths, and no namespace mount', { timeout: testTimeoutMs }, async () => {
    const room = await makeRoom(work.dir, desktopIds());
    const pid = await startContained(room, clockApps);
    trees.push(pid);
    await treeComms(pid, ['Xvnc', 'xclock']);
    const mounts = await mountinfo(pid);
    assert.deepEqual(mounts.filter((m) => m.fstype === 'nsfs'), [], 'no nsfs mount (criu cannot dump one)');
    assert.equal(mounts.find((m) => m.mountpoint === '/tmp')?.fstype, 'tmpfs');
    assert.equal(mounts.find((m) => m.mountpoint === inside.home)?.root, room.homeDir);
    assert.equal(mounts.find((m) => m.mountpoint === inside.run)?.root, room.runDir);
    assert.equal(await readlink(`/proc/${pid}/cwd`), inside.home);
    // Display :1 in this desktop and in the first one at once: each has its own socket (this Xvnc writes no lock).
    assert.ok((await stat(`/proc/${pid}/root/tmp/.X11-unix/X1`)).isSocket());
    await writeFile(`/proc/${pid}/root${inside.home}/written-inside`, 'x');
    assert.ok((await readdir(room.homeDir)).includes('written-inside'), 'the home folder is the host folder bound');
    assert.ok((await readFile(path.join(room.runDir, 'desktop.log'), 'utf8')).includes('display :1 ready'));
  });

  for (const networkLock of ['iptables', 'nftables'] as const) {
    test(`dump and restore in the kept namespace keep the viewer's connection (network lock: ${networkLock})`, { timeout: testTimeoutMs }, async () => {
      const room = await makeRoom(work.dir, desktopIds());
      const pid = await startContained(room, [...clockApps, '1', 'xterm']);
      await treeComms(pid, ['Xvnc', 'xclock', 'xterm', 'bash']);
      const viewer = await viewerIn(room);
      viewers.push(viewer);
      await viewer.nextUpdate(updateWithinMs);
      const port = viewer.socket.localPort;

      const imagesDir = path.join(work.dir, `images-${networkLock}`);
      const dump = await criuDump(pid, room, imagesDir, networkLock);
      assert.deepEqual(await treePids(pid), [], 'the tree is gone after the dump');
      assert.equal(viewer.closed, false, 'the viewer keeps its connection while the desktop is frozen');
      const restore = await criuRestore(room, imagesDir, 'restore.log', true, networkLock);
      trees.push(restore.pid);
      await treeComms(restore.pid, ['Xvnc', 'xclock', 'xterm', 'bash']);
      const before = viewer.updates;
      await viewer.nextUpdate(updateWithinMs);
      assert.ok(viewer.updates > before && !viewer.closed);
      assert.equal(viewer.socket.localPort, port, 'the same TCP connection');
      if (networkLock === 'iptables') {
        const { stdout } = await execa('ip', ['netns', 'exec', room.netns.name, 'iptables', '-S']);
        assert.doesNotMatch(stdout, /CRIU/, 'the restore removed the lock');
      }
      console.log(`# ${networkLock}: dump ${Math.round(dump.durationMs)} ms, restore ${Math.round(restore.durationMs)} ms`);
    });
  }
});
