// A uid of its own per contained desktop, on the engine (issue #12, part 3), read from /proc with real newns, Xvnc
// and criu: two desktops run as two uids of the reserved range, named `desktop` inside, and neither can signal or
// read the other's processes nor read the other's home, from inside (its own namespaces) or from the host's view;
// two clones of one checkpoint share its uid (criu restores creds as dumped) and are kept apart by their
// namespaces alone; the trust check accepts a checkpoint's ids only while its desktop holds that uid's claim; the
// claim is released when the last desktop running as that uid is removed.
import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import type { Engine } from '../server/engine';
import { treePids } from '../server/desktops/processes';
import type { DesktopRecord } from '../server/desktops/records';
import { roomOf } from '../server/desktops/rooms';
import { writeSignedArchive } from '../server/checkpoints/signing';
import { decodeProto, imageEntries } from '../server/criu/images';
import { editImage, setField } from './support/protoEdit';
import { isReservedUid } from '../server/desktops/uids';
import { inside } from '../server/sandbox/layout';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

let engine: Engine;
let dispose: () => Promise<void>;
before(async () => ({ engine, dispose } = await withEngine('210-219')));
after(async () => dispose());

const exists = (file: string) => access(file).then(() => true, () => false);
const apps = ['xterm', 'xclock'];
const programs = ['Xvnc', 'icewm', 'xclock', 'xterm', 'bash'];

/** Real, effective, saved and filesystem uid and gid of a process, from /proc. */
async function idsOfProcess(pid: number): Promise<[string, string]> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (f: string) => status.split('\n').find((l) => l.startsWith(`${f}:`))!.split(/\s+/).slice(1).join(' ');
  return [field('Uid'), field('Gid')];
}

/** Every process of the desktop's tree once its programs run (xterm's shell included), each with its ids. */
async function tree(d: DesktopRecord): Promise<{ pid: number; comm: string; ids: [string, string] }[]> {
  return eventually(async () => {
    const all = await Promise.all((await treePids(d.pid!)).map(async (pid) => ({
      pid, comm: (await readFile(`/proc/${pid}/comm`, 'utf8')).trim(), ids: await idsOfProcess(pid),
    })));
    for (const p of programs) assert.ok(all.some((x) => x.comm === p), `${p} runs in ${d.id}`);
    return all;
  }, 30_000);
}

/** The PIDs of a pstree image, root first. */
function entriesOfPstree(buf: Buffer): number[] {
  return imageEntries(buf).map((e) => Number(decodeProto(e).get(1)![0]));
}

const asUid = (uid: number) => ['setpriv', '--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--'];

/** A shell command run as the desktop's uid inside its PID and mount namespaces (its own /proc), as its programs would. */
function fromInside(d: DesktopRecord, script: string) {
  return execa('nsenter', ['-t', String(d.pid), '-p', '-m', '--', ...asUid(d.uid!), 'sh', '-c', script], { reject: false });
}

/** The same from the host's namespaces, with only the desktop's uid (what a process escaping its namespaces would have). */
function fromHostAs(d: DesktopRecord, script: string) {
  return execa(asUid(d.uid!)[0], [...asUid(d.uid!).slice(1), 'sh', '-c', script], { reject: false });
}

/** What desktop `from` can do to desktop `to` from inside its namespaces: nothing, while it can to its own. */
async function assertApartInside(from: DesktopRecord, to: DesktopRecord): Promise<void> {
  const home = roomOf(engine.desktops.paths, to.id).home;
  // Positive controls: its own root (PID 1 inside, its uid's) can be signalled and read, its own home listed.
  const own = await fromInside(from, 'kill -0 1 && cat /proc/1/environ >/dev/null && ls /home/desktop >/dev/null && echo ok');
  assert.equal(own.stdout.trim(), 'ok', `inside ${from.id}: ${own.stderr}`);
  const visible = (await fromInside(from, 'ls /proc')).stdout.split(/\s+/).filter((n) => /^\d+$/.test(n)).map(Number);
  for (const { pid, comm } of await tree(to)) {
    const kill = await fromInside(from, `kill -0 ${pid}`);
    assert.notEqual(kill.exitCode, 0, `${from.id} signalled ${comm} (${pid}) of ${to.id}`);
    const read = await fromInside(from, `cat /proc/${pid}/environ`);
    assert.notEqual(read.exitCode, 0, `${from.id} read /proc of ${comm} (${pid}) of ${to.id}`);
    // Its /proc lists only its own tree (PIDs of its namespace): none of the other's host PIDs, unless by a
    // coincidence of numbers one of its own, which the reads above then concerned (and found another process).
    if (visible.includes(pid)) assert.ok(pid < 1000, `host PID ${pid} of ${to.id} listed in ${from.id}'s /proc`);
  }
  // The other's home, by its host path: not in its view (the state folder is hidden from every tree).
  const ls = await fromInside(from, `ls ${home}`);
  assert.notEqual(ls.exitCode, 0);
  assert.match(ls.stderr, /No such file or directory/);
}

describe('a uid of its own per contained desktop', () => {
  test('two desktops: two uids of the reserved range, named inside, apart from each other; released on remove', async () => {
    const { desktops } = engine;
    const [a, b] = await Promise.all([desktops.start({ geometry: '640x480', apps }), desktops.start({ geometry: '640x480', apps })]);
    assert.notEqual(a.uid, b.uid);
    for (const d of [a, b]) {
      assert.ok(isReservedUid(d.uid) && d.gid === d.uid && d.ownUser, `${d.id} runs as ${d.uid}:${d.gid}`);
      assert.equal((await execa('getent', ['passwd', String(d.uid)], { reject: false })).exitCode, 2, `uid ${d.uid} has no entry on the host`);
      for (const p of await tree(d)) assert.deepEqual(p.ids, [Array(4).fill(d.uid).join(' '), Array(4).fill(d.gid).join(' ')], `${p.comm} of ${d.id}`);
      // Its name inside: the generated passwd bound over the host's, in its mount namespace only.
      assert.equal((await fromInside(d, 'whoami')).stdout.trim(), 'desktop');
      const entry = await execa('nsenter', ['-t', String(d.pid), '-m', 'getent', 'passwd', String(d.uid)]);
      assert.equal(entry.stdout.trim(), `desktop:x:${d.uid}:${d.gid}:Freezeframe desktop:${inside.home}:/bin/bash`);
      // Its home is its own; the run folder stays root's (newns and criu open the log there as root: a folder of
      // the desktop's could turn it into a link), with the VNC password file its uid's (Xvnc reads it).
      const room = roomOf(desktops.paths, d.id);
      const home = await stat(room.home);
      assert.deepEqual([home.uid, home.gid, home.mode & 0o777], [d.uid, d.gid, 0o700]);
      const run = await stat(room.run);
      assert.deepEqual([run.uid, run.mode & 0o777], [0, 0o755]);
      assert.equal((await stat(room.passwordFile)).uid, d.uid);
    }
    await assertApartInside(a, b);
    await assertApartInside(b, a);
    // From the host's view (no namespace between them), the uid alone keeps them apart.
    for (const [from, to] of [[a, b], [b, a]]) {
      const kill = await fromHostAs(from, `kill -0 ${to.pid}`);
      assert.match(kill.stderr, /Operation not permitted/);
      const read = await fromHostAs(from, `cat /proc/${to.pid}/environ`);
      assert.match(read.stderr, /Permission denied/);
      const ls = await fromHostAs(from, `ls ${roomOf(desktops.paths, to.id).home}`);
      assert.match(ls.stderr, /Permission denied/);
    }

    // Checkpointed and restored: the same uid, the same name inside.
    const { checkpoint } = await desktops.checkpoint(a.id);
    assert.equal(checkpoint.desktopSpec?.uid, a.uid);
    const back = (await desktops.restore(checkpoint.id)).desktop;
    for (const p of await tree(back)) assert.equal(p.ids[0], Array(4).fill(a.uid).join(' '));
    assert.equal((await fromInside(back, 'whoami')).stdout.trim(), 'desktop');

    // Removed: its uid's claim goes, and the uid is handed out again.
    const claims = desktops.paths.uidClaims();
    for (const d of [a, b]) {
      await desktops.stop(d.id);
      await desktops.remove(d.id);
      assert.equal(await exists(path.join(claims, String(d.uid))), false, `uid ${d.uid} released`);
    }
    const c = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    // The lowest free uid again: one of theirs, or a lower one if another state folder's desktop (which this one
    // skips while it runs) let go of it meanwhile; not one above both, unless others took both in between.
    assert.ok(isReservedUid(c.uid) && c.uid <= Math.max(a.uid!, b.uid!), `uid ${c.uid} after ${a.uid} and ${b.uid} were released`);
    await desktops.stop(c.id);
    await desktops.remove(c.id);
  });

  test('the trust check accepts a checkpoint\'s ids only while its desktop holds that uid', async () => {
    const { desktops } = engine;
    const d = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(d.id);
    const claim = path.join(desktops.paths.uidClaims(), String(d.uid), d.id);
    await rename(claim, `${claim}.away`);
    // Without the claim the desktop's ids are the installation's desktop user's: the images' creds are refused.
    await assert.rejects(desktops.restore(checkpoint.id), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'untrusted_images', error.message);
      assert.match(error.message, new RegExp(`uid ${d.uid}`));
      return true;
    });
    await rename(`${claim}.away`, claim);
    const back = await desktops.restore(checkpoint.id);
    assert.equal(back.desktop.state, 'running');
    await desktops.stop(d.id);
    await desktops.remove(d.id);
  });

  test('clones of a checkpoint whose images ask for root: every clone refused, its uid\'s claim kept for the others only', async () => {
    const { desktops } = engine;
    const d = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(d.id);
    const images = desktops.paths.checkpointImages(checkpoint.id);
    const [root] = entriesOfPstree(await readFile(path.join(images, 'pstree.img')));
    await editImage(path.join(images, `core-${root}.img`), (e) => setField(e, [5, 10, 1], 0));
    await assert.rejects(desktops.clone(checkpoint.id, { count: 2 }), /no clone of checkpoint .* started: .*uid 0/);
    const clones = (await desktops.list()).filter((x) => x.homeBase === checkpoint.id);
    assert.equal(clones.length, 2);
    for (const c of clones) {
      assert.equal(c.state, 'failed');
      assert.equal(c.lastError?.code, 'untrusted_images');
      assert.equal(c.pid, undefined, 'no clone ran');
      await desktops.stop(c.id);
      await desktops.remove(c.id);
    }
    assert.deepEqual(await readdir(path.join(desktops.paths.uidClaims(), String(d.uid))), [d.id]);
    await desktops.stop(d.id);
    await desktops.remove(d.id);
  });

  test('an archive restores elsewhere as its uid, claimed there; one naming other ids is refused', async () => {
    const { desktops } = engine;
    const d = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(d.id);
    const file = path.join(desktops.paths.stateDir, `${checkpoint.id}.tar.zst`);
    await desktops.exportCheckpoint(checkpoint.id, file);
    // Another state folder trusting this one's key (the same key folder): the original stays frozen here.
    const elsewhere = await withEngine('220-229', { FREEZEFRAME_KEY_DIR: engine.config.keyDir });
    try {
      const imported = await elsewhere.engine.desktops.importCheckpoint(file);
      assert.deepEqual([imported.desktop.uid, imported.desktop.ownUser], [d.uid, true]);
      assert.equal(await exists(path.join(elsewhere.engine.desktops.paths.uidClaims(), String(d.uid), d.id)), true);
      const back = (await elsewhere.engine.desktops.restore(checkpoint.id)).desktop;
      for (const p of await eventually(async () => {
        const pids = await treePids(back.pid!);
        assert.ok(pids.length > 3, `the restored tree has its processes (${pids.length} so far)`);
        return pids;
      })) assert.equal((await idsOfProcess(p))[0], Array(4).fill(d.uid).join(' '));

      // The same archive, its record made to name root (and signed again with the trusted key): refused at import.
      const staged = await mkdtemp(path.join(elsewhere.engine.desktops.paths.stateDir, 'forged-'));
      await execa('tar', ['--zstd', '-xf', file, '-C', staged]);
      const record = JSON.parse(await readFile(path.join(staged, 'checkpoint.json'), 'utf8'));
      record.id = 'c-0f0f0f0f';
      record.desktopSpec.uid = 0;
      record.desktopSpec.gid = 0;
      await writeFile(path.join(staged, 'checkpoint.json'), JSON.stringify(record));
      await rm(path.join(staged, 'manifest.json'));
      await rm(path.join(staged, 'signature.json'));
      const forged = `${staged}.tar.zst`;
      await writeSignedArchive(staged, forged, engine.config.keyDir);
      await assert.rejects(elsewhere.engine.desktops.importCheckpoint(forged), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'invalid', error.message);
        assert.match(error.message, /uid 0, gid 0/);
        return true;
      });
    } finally {
      await elsewhere.dispose();
    }
  });

  test('two clones of one checkpoint: its uid, shared, and still apart (their own PID and mount namespaces)', async () => {
    const { desktops } = engine;
    const origin = await desktops.start({ geometry: '640x480', apps });
    await tree(origin); // xterm's shell is up: it comes back in the clones
    const { checkpoint } = await desktops.checkpoint(origin.id);
    const { desktops: [x, y], failed } = await desktops.clone(checkpoint.id, { count: 2 });
    assert.deepEqual(failed, []);
    for (const d of [x, y]) {
      assert.deepEqual([d.uid, d.gid, d.ownUser], [origin.uid, origin.gid, true]);
      for (const p of await tree(d)) assert.equal(p.ids[0], Array(4).fill(origin.uid).join(' '), `${p.comm} of clone ${d.id}`);
      assert.equal((await fromInside(d, 'whoami')).stdout.trim(), 'desktop');
    }
    await assertApartInside(x, y);
    await assertApartInside(y, x);
    const claim = path.join(desktops.paths.uidClaims(), String(origin.uid));
    // The uid stays claimed while any of the three runs as it.
    await desktops.stop(origin.id);
    await desktops.remove(origin.id);
    assert.equal(await exists(claim), true);
    for (const d of [x, y]) {
      await desktops.stop(d.id);
      await desktops.remove(d.id);
    }
    assert.equal(await exists(claim), false);
  });
});
