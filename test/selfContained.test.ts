// Self-contained desktops (issue #12), with real newns, Xvnc and criu: a kept network namespace reached from the
// server through a socket made inside it, a private mount view at fixed paths, dump and restore with the
// viewer's TCP connection kept, and clones of one checkpoint restored at once.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, readlink, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RfbClient } from '../server/vnc/rfbClient';
import { execa } from 'execa';
import { adoptOrphans, treePids } from '../server/desktops/processes';
import { connectInNamespace } from '../server/sandbox/netnsSocket';
import { inside } from '../server/sandbox/layout';
import { copyHomeBase, mountCloneHome, unmountCloneHome } from '../server/sandbox/overlayHome';
import { criuDump, criuRestore, desktopIds, forgetRooms, killTree, makeRoom, scratch, startContained, treeComms, viewerIn } from './support/containedDesktop';
import { eventually } from './support/eventually';

const testTimeoutMs = 120_000;
// xclock redraws its second hand every second: a live desktop sends an update within 1 s, so 5 s is conclusive.
const clockApps = ['3', 'xclock', '-update', '1'];
const updateWithinMs = 5_000;

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
    // Another desktop's overlay home, mounted on the host before this one starts: the tree must not get a copy.
    const other = await mountCloneHome(await mkdtemp(path.join(work.dir, 'other-base-')), path.join(work.dir, 'other'));
    const room = await makeRoom(work.dir, desktopIds());
    const pid = await startContained(room, clockApps);
    trees.push(pid);
    await treeComms(pid, ['Xvnc', 'xclock']);
    const mounts = await mountinfo(pid);
    assert.deepEqual(mounts.filter((m) => m.mountpoint.startsWith(work.dir)), [], 'no mount of the state folder');
    assert.ok((await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${other.merged} `), 'the host still has it');
    await unmountCloneHome(other);
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
      const port = viewer.socket!.localPort;

      const imagesDir = path.join(work.dir, `images-${networkLock}`);
      const dump = await criuDump(pid, room, imagesDir, { networkLock });
      assert.deepEqual(await treePids(pid), [], 'the tree is gone after the dump');
      // The host's mounts are external (criuFlags.ts): the only tmpfs in the images is the desktop's own /tmp.
      assert.equal((await readdir(imagesDir)).filter((f) => f.startsWith('tmpfs-dev-')).length, 1);
      assert.equal(viewer.closed, false, 'the viewer keeps its connection while the desktop is frozen');
      const restore = await criuRestore(room, imagesDir, 'restore.log', { keepConnections: true, networkLock });
      trees.push(restore.pid);
      await treeComms(restore.pid, ['Xvnc', 'xclock', 'xterm', 'bash']);
      const before = viewer.updates;
      await viewer.nextUpdate(updateWithinMs);
      assert.ok(viewer.updates > before && !viewer.closed, 'the viewer gets updates again on its connection after the restore');
      assert.equal(viewer.socket!.localPort, port, 'the same TCP connection');
      if (networkLock === 'iptables') {
        const { stdout } = await execa('ip', ['netns', 'exec', room.netns.name, 'iptables', '-S']);
        assert.doesNotMatch(stdout, /CRIU/, 'the restore removed the lock');
      }
      console.log(`# ${networkLock}: dump ${Math.round(dump.durationMs)} ms, restore ${Math.round(restore.durationMs)} ms`);
    });
  }

  test('one checkpoint restored at once as the original (its folders moved) and two clones (one from a copy of the images), each in its own namespace with a copy-on-write home', { timeout: testTimeoutMs }, async () => {
    const room = await makeRoom(work.dir, desktopIds());
    const pid = await startContained(room, clockApps);
    await treeComms(pid, ['Xvnc', 'xclock']);
    await writeFile(path.join(room.homeDir, 'made-before-the-dump'), 'base');
    const viewer = await viewerIn(room);
    viewers.push(viewer);
    await viewer.nextUpdate(updateWithinMs);
    const imagesDir = path.join(work.dir, 'images-clones');
    await criuDump(pid, room, imagesDir);
    // What the images' open files refer to, taken while the tree is stopped: the home and the run folder (the log).
    const baseHome = path.join(work.dir, 'clone-base-home');
    const baseRun = path.join(work.dir, 'clone-base-run');
    await copyHomeBase(room.homeDir, baseHome);
    await cp(room.runDir, baseRun, { recursive: true, preserveTimestamps: true });

    const cloneRooms = await Promise.all([1, 2].map(async (n) => {
      const cloneDir = path.join(work.dir, `clone-${n}`);
      const home = await mountCloneHome(baseHome, cloneDir);
      const runDir = path.join(cloneDir, 'run');
      await cp(baseRun, runDir, { recursive: true, preserveTimestamps: true });
      return makeRoom(work.dir, desktopIds(), { homeDir: home.merged, runDir });
    }));
    // Nothing in the images names the dump-time host folders: the original's own are moved away, and the second
    // clone reads the images from a copy elsewhere (as an import into another state folder would).
    const elsewhere = path.join(work.dir, 'elsewhere');
    await mkdir(elsewhere);
    const movedImages = path.join(elsewhere, 'images');
    await cp(imagesDir, movedImages, { recursive: true, preserveTimestamps: true });
    const moved = { ...room, homeDir: path.join(elsewhere, 'home'), runDir: path.join(elsewhere, 'run') };
    await rename(room.homeDir, moved.homeDir);
    await rename(room.runDir, moved.runDir);
    const started = performance.now();
    const [original, ...clones] = await Promise.all([
      criuRestore(moved, imagesDir, 'restore-original.log', { keepConnections: true }),
      ...cloneRooms.map((r, i) => criuRestore(r, i === 0 ? imagesDir : movedImages, `restore-clone-${i + 1}.log`, { keepConnections: false })),
    ]);
    const allMs = performance.now() - started;
    trees.push(original.pid, ...clones.map((c) => c.pid));

    const before = viewer.updates;
    await viewer.nextUpdate(updateWithinMs);
    assert.ok(viewer.updates > before && !viewer.closed, 'the original viewer moves again');
    for (const [i, clone] of clones.entries()) {
      const r = cloneRooms[i];
      const xvnc = (await treeComms(clone.pid, ['Xvnc', 'xclock'])).get('Xvnc')!;
      assert.equal(await readlink(`/proc/${xvnc}/ns/net`), `net:[${r.netns.inode}]`, `clone ${i + 1} runs in its own namespace`);
      const cloneViewer = await viewerIn(r);
      viewers.push(cloneViewer);
      await cloneViewer.nextUpdate(updateWithinMs);
      assert.equal(await readFile(`/proc/${clone.pid}/root${inside.home}/made-before-the-dump`, 'utf8'), 'base');
    }
    await writeFile(`/proc/${clones[0].pid}/root${inside.home}/written-by-clone-1`, 'one');
    assert.equal(await readFile(`/proc/${clones[0].pid}/root${inside.home}/written-by-clone-1`, 'utf8'), 'one');
    for (const other of [clones[1].pid, original.pid]) {
      await assert.rejects(readFile(`/proc/${other}/root${inside.home}/written-by-clone-1`), { code: 'ENOENT' });
    }
    await assert.rejects(stat(path.join(baseHome, 'written-by-clone-1')), { code: 'ENOENT' }, 'the base never changes');

    // A clone is a desktop like any other: its home (a bind of an overlay) dumps and restores, its viewer kept.
    const cloneViewer = viewers.at(-1)!;
    const again = path.join(work.dir, 'images-clone-2');
    await criuDump(clones[1].pid, cloneRooms[1], again);
    const back = await criuRestore(cloneRooms[1], again, 'restore.log', { keepConnections: true });
    trees.push(back.pid);
    const count = cloneViewer.updates;
    await cloneViewer.nextUpdate(updateWithinMs);
    assert.ok(cloneViewer.updates > count && !cloneViewer.closed, 'the clone\'s viewer moves again');
    assert.equal(await readFile(`/proc/${back.pid}/root${inside.home}/made-before-the-dump`, 'utf8'), 'base');
    console.log(`# original + 2 clones restored at once in ${Math.round(allMs)} ms (criu: ${[original, ...clones].map((r) => Math.round(r.durationMs)).join(', ')} ms)`);
  });
});
