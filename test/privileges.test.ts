// What a desktop's processes may do, read from /proc: the README's Security claims, before and after a restore.
import assert from 'node:assert/strict';
import { readFile, readlink } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { treePids } from '../server/desktops/processes';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

// CAP_SETGID (6) and CAP_SETUID (7): the only ones native/newns --no-caps keeps (xterm resets its shell's ids).
const keptCaps = (1n << 6n) | (1n << 7n);
const namespaces = ['pid', 'mnt', 'ipc', 'uts', 'user'] as const;
const programs = ['Xvnc', 'desktop.sh', 'icewm', 'xclock', 'xterm'];

interface Privileges {
  pid: number;
  comm: string;
  uid: string;
  capEff: bigint;
  capPrm: bigint;
  capBnd: bigint;
  capAmb: bigint;
  ns: Record<(typeof namespaces)[number], string>;
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
    pid, comm: field('Name'), uid: field('Uid'),
    capEff: BigInt(`0x${field('CapEff')}`), capPrm: BigInt(`0x${field('CapPrm')}`),
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

function assertConfined(tree: Privileges[], server: Privileges): void {
  for (const p of tree) {
    const who = `${p.comm} (${p.pid})`;
    assert.equal(p.capBnd, keptCaps, `${who}: bounding set ${p.capBnd.toString(16)}`);
    assert.equal(p.capPrm & ~keptCaps, 0n, `${who}: permitted ${p.capPrm.toString(16)}`);
    assert.equal(p.capEff & ~keptCaps, 0n, `${who}: effective ${p.capEff.toString(16)}`);
    assert.equal(p.capAmb, 0n, `${who}: ambient ${p.capAmb.toString(16)}`);
    for (const n of ['pid', 'mnt', 'ipc', 'uts'] as const) assert.notEqual(p.ns[n], server.ns[n], `${who}: ${n} namespace is the server's`);
    // Measured, not wished for: no user namespace and uid 0 (criu 4.2 cannot restore the viewers' TCP connections
    // of a tree in a user namespace of its own; see docs/userns.md). Fails, on purpose, once that changes.
    assert.equal(p.ns.user, server.ns.user, `${who}: user namespace`);
    assert.match(p.uid, /^0\s+0\s+0\s+0$/, `${who}: uids ${p.uid}`);
  }
  const roots = new Set(tree.map((p) => p.ns.pid));
  assert.equal(roots.size, 1, 'the whole tree shares one PID namespace');
}

describe("a desktop's privileges", () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('40-49')));
  after(async () => dispose());

  test('only CAP_SETUID and CAP_SETGID, own namespaces, the same after a restore', async () => {
    const { desktops } = engine;
    const server = await privileges(process.pid);
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xterm', 'xclock'] });
    const running = await treePrivileges(desktop.pid!);
    assertConfined(running, server);

    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const restored = await desktops.restore(checkpoint.id);
    const back = await treePrivileges(restored.desktop.pid!);
    assertConfined(back, server);
    assert.ok(back.some((p) => p.comm === 'bash'), "xterm's shell, started with the ids xterm reset, is confined too");
  });
});
