// What a desktop's processes may do, read from /proc: the README's Security claims, before and after a restore.
import assert from 'node:assert/strict';
import { readFile, readlink, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { treePids } from '../server/desktops/processes';
import { isReservedUid } from '../server/desktops/uids';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

const namespaces = ['pid', 'mnt', 'ipc', 'uts', 'user'] as const;
const programs = ['Xvnc', 'desktop.sh', 'icewm', 'xclock', 'xterm'];

interface Privileges {
  pid: number;
  comm: string;
  uid: string;
  gid: string;
  groups: string;
  noNewPrivs: string;
  capInh: bigint;
  capEff: bigint;
  capPrm: bigint;
  capBnd: bigint;
  capAmb: bigint;
  ns: Record<(typeof namespaces)[number], string>;
}

function desktopUser(name: string): { uid: number; gid: number } {
  const [, , uid, gid] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function privileges(pid: number): Promise<Privileges> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const line = status.split('\n').find((l) => l.startsWith(`${name}:`));
    assert.ok(line, `process ${pid} has no ${name} line`);
    return line.slice(name.length + 1).trim();
  };
  const ns = Object.fromEntries(await Promise.all(namespaces.map(async (n) => [n, await readlink(`/proc/${pid}/ns/${n}`)])));
  return {
    pid, comm: field('Name'), uid: field('Uid'), gid: field('Gid'), groups: field('Groups'), noNewPrivs: field('NoNewPrivs'),
    capInh: BigInt(`0x${field('CapInh')}`), capEff: BigInt(`0x${field('CapEff')}`), capPrm: BigInt(`0x${field('CapPrm')}`),
    capBnd: BigInt(`0x${field('CapBnd')}`), capAmb: BigInt(`0x${field('CapAmb')}`),
    ns: ns as Privileges['ns'],
  };
}

/** Every process of the tree once all its programs run (an app may still be between fork and exec before). */
async function treePrivileges(rootPid: number): Promise<Privileges[]> {
  return eventually(async () => {
    const all = await Promise.all((await treePids(rootPid)).map(privileges));
    assert.deepEqual([...new Set(all.map((p) => p.comm).filter((c) => programs.includes(c)))].sort(), programs);
    return all;
  });
}

/** uid and gid: what every process of the tree must run as (real, effective, saved and filesystem ids). */
function assertConfined(tree: Privileges[], server: Privileges, user: { uid: number; gid: number }): void {
  assert.ok(user.uid > 0 && user.gid > 0, 'the desktop user is not root');
  for (const p of tree) {
    const who = `${p.comm} (${p.pid})`;
    assert.deepEqual(p.uid.split(/\s+/).map(Number), [user.uid, user.uid, user.uid, user.uid], `${who}: uids ${p.uid}`);
    assert.deepEqual(p.gid.split(/\s+/).map(Number), [user.gid, user.gid, user.gid, user.gid], `${who}: gids ${p.gid}`);
    assert.equal(p.groups, String(user.gid), `${who}: supplementary groups`);
    for (const [set, value] of [['bounding', p.capBnd], ['permitted', p.capPrm], ['effective', p.capEff], ['inheritable', p.capInh], ['ambient', p.capAmb]] as const) {
      assert.equal(value, 0n, `${who}: ${set} capabilities ${value.toString(16)}`);
    }
    assert.equal(p.noNewPrivs, '1', `${who}: no_new_privs (no set-user-ID program gives any privilege back)`);
    for (const n of ['pid', 'mnt', 'ipc', 'uts'] as const) assert.notEqual(p.ns[n], server.ns[n], `${who}: ${n} namespace is the server's`);
    // No user namespace of its own: criu 4.2 cannot restore the viewers' TCP connections there (docs/userns.md).
    assert.equal(p.ns.user, server.ns.user, `${who}: user namespace`);
  }
  const roots = new Set(tree.map((p) => p.ns.pid));
  assert.equal(roots.size, 1, 'the whole tree shares one PID namespace');
}

/** The desktop's devpts gives every new pty to the desktop user, whoever opens /dev/ptmx (criu, on restore). */
async function assertPtysBelongTo(rootPid: number, uid: number): Promise<void> {
  const mountinfo = await readFile(`/proc/${rootPid}/mountinfo`, 'utf8');
  const pts = mountinfo.split('\n').findLast((l) => l.split(' ')[4] === '/dev/pts' && l.includes(' - devpts '));
  assert.ok(pts, 'the desktop has a devpts on /dev/pts'); // the last one: its own, over the host's
  assert.match(pts, new RegExp(`[ ,]uid=${uid}(,|$)`), `its devpts options: ${pts}`);
}

async function limitsByProgram(tree: Privileges[]): Promise<Record<string, string>> {
  const mine = tree.filter((p) => programs.includes(p.comm));
  return Object.fromEntries(await Promise.all(mine.map(async (p) => [p.comm, await readFile(`/proc/${p.pid}/limits`, 'utf8')])));
}

describe("a desktop's privileges", () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('40-49')));
  after(async () => dispose());

  test('an unprivileged uid without any capability, own namespaces, the same after a restore', async () => {
    const { desktops } = engine;
    const server = await privileges(process.pid);
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xterm', 'xclock'] });
    // A contained desktop (the default) runs as a uid of its own from the reserved range; one on the host's display
    // as the installation's desktop user.
    const user = engine.config.contained ? { uid: desktop.uid!, gid: desktop.gid! } : desktopUser(engine.config.desktopUser);
    if (engine.config.contained) assert.ok(desktop.ownUser && isReservedUid(desktop.uid) && desktop.gid === desktop.uid, `its own uid: ${desktop.uid}`);
    else assert.deepEqual([desktop.uid, desktop.gid], [user.uid, user.gid], 'the record names the ids its programs run as');
    // Dumped once xterm's shell is up: a checkpoint taken before xterm forks it has no shell to bring back.
    const running = await eventually(async () => {
      const tree = await treePrivileges(desktop.pid!);
      assert.ok(tree.some((p) => p.comm === 'bash'), "xterm's shell has started");
      return tree;
    }, 30_000);
    assertConfined(running, server, user);
    const home = await stat(desktops.paths.desktopHome(desktop.id));
    assert.deepEqual([home.uid, home.gid, home.mode & 0o777], [user.uid, user.gid, 0o700], 'its home is its own');

    const limitsBefore = await limitsByProgram(running);
    await assertPtysBelongTo(desktop.pid!, user.uid);

    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const restored = await desktops.restore(checkpoint.id);
    const back = await treePrivileges(restored.desktop.pid!);
    assertConfined(back, server, user);
    assert.ok(back.some((p) => p.comm === 'bash'), "xterm's shell is confined too");
    await assertPtysBelongTo(restored.desktop.pid!, user.uid);
    // criu dumps another uid's rlimits from /proc/PID/limits (scripts/criu-patches/0001-rlimits-from-proc.patch):
    // read a line off, and the restored programs would get another resource's limits.
    assert.deepEqual(await limitsByProgram(back), limitsBefore, 'the same rlimits after the restore');
  });
});
