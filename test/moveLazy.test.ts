// A post-copy move (method 'lazy', issue #14) with real hosts: the target restores at once and its `criu lazy-pages`
// fetches the memory from the source's `criu dump --lazy-pages`, which serves it on the source's fleet address.
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { api, HostViewer, makeFleet, startDesktop, type Fleet, type FleetHost } from './support/fleetHosts';
import { inHost } from './support/testHosts';
import { eventually } from './support/eventually';

type Desktop = { id: string; state: string; fetching?: unknown; lastError?: { message: string }; lastCheckpoint?: string; lastOperation?: { criuPid?: number }; movedTo?: { host: string } };
type Lazy = { ms?: number; ok?: boolean; copiedPages?: number; totalPages?: number; errors?: string[] };
type Checkpoint = { id: string; restores: { ok: boolean; lazy?: Lazy }[] };
type Moved = { host: string; method: string; checkpoint: string; frozenMs: number; bytesSent: number; lazy?: { dumpPid: number; address: string; port: number } };
type Failure = { error: { code: string; message: string } };

let fleet: Fleet;
let host1: FleetHost;
let host2: FleetHost;

before(async () => {
  fleet = await makeFleet({ subnet: 176, port: 3612, size: 3, displays: (n) => `${150 + 4 * n}-${153 + 4 * n}` });
  [host1, host2] = await Promise.all([fleet.start(1), fleet.start(2)]);
});
after(async () => fleet?.dispose());

const desktopOn = async (host: FleetHost, id: string) => (await api<{ desktop: Desktop }>(host, 'GET', `/api/desktops/${id}`)).body.desktop;
const checkpointOn = async (host: FleetHost, id: string) => (await api<{ checkpoint: Checkpoint }>(host, 'GET', `/api/checkpoints/${id}`)).body.checkpoint;
const alive = (pid: number) => readFile(`/proc/${pid}/stat`, 'utf8').then((s) => !/^\d+ \(.*\) [ZX] /.test(s), () => false);
const exists = (file: string) => access(file).then(() => true, () => false);

/** The target's last restore of checkpoint once its lazy-pages daemon has exited (the record left `fetching`). */
async function fetched(host: FleetHost, id: string, checkpoint: string): Promise<{ desktop: Desktop; lazy: Lazy }> {
  let result: { desktop: Desktop; lazy: Lazy } | undefined;
  await eventually(async () => {
    const desktop = await desktopOn(host, id);
    assert.equal(desktop.fetching, undefined, `${host.name} still fetching the pages of ${id}`);
    const lazy = (await checkpointOn(host, checkpoint)).restores.at(-1)?.lazy;
    assert.ok(lazy?.ok !== undefined, `the lazy restore of ${checkpoint} on ${host.name} is judged`);
    result = { desktop, lazy: lazy! };
  }, 60_000);
  return result!;
}

test('a lazy move: the target runs it at once, fetches every page from the source, whose dump then exits and is tidied', async () => {
  const id = await startDesktop(host1);
  const viewer = await HostViewer.open(host1, id);
  await viewer.moves();
  const { status, body } = await api<Moved & Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host2', method: 'lazy' });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.method, 'lazy');
  // The page server listens on the source's fleet address only.
  assert.equal(body.lazy?.address, host1.address, JSON.stringify(body.lazy));
  assert.equal(await viewer.closed, 4001);
  assert.equal((await desktopOn(host2, id)).state, 'running');
  const there = await HostViewer.open(host2, id);
  await there.moves();
  // Every page came: the daemon exited 0 with nothing missing, and the record left `fetching` still running.
  const { desktop, lazy } = await fetched(host2, id, (await desktopOn(host2, id)).lastCheckpoint!);
  assert.equal(desktop.state, 'running');
  assert.equal(lazy.ok, true, JSON.stringify(lazy));
  assert.ok((lazy.copiedPages ?? 0) > 0 && lazy.copiedPages === lazy.totalPages, `every lazy page copied (${lazy.copiedPages}/${lazy.totalPages})`);
  console.log(`lazy move: frozen ${body.frozenMs.toFixed(0)} ms, archive ${body.bytesSent} B, ${lazy.copiedPages} pages fetched in ${lazy.ms?.toFixed(0)} ms (daemon's start to exit)`);
  await there.moves();
  // The source: its dump exited once it had served everything, its images went, the desktop is only there.
  await eventually(async () => assert.equal(await alive(body.lazy!.dumpPid), false, 'the dump exited'), 30_000);
  await eventually(async () => assert.equal(await exists(path.join(host1.stateDir, 'checkpoints', body.checkpoint)), false, 'the move checkpoint removed on host1'), 30_000);
  const dumpLog = await readFile(path.join(host1.stateDir, 'checkpoints', body.checkpoint, 'dump.log'), 'utf8').catch(() => '');
  assert.equal(dumpLog, '', 'the dump log went with the images');
  const left = await desktopOn(host1, id);
  assert.equal(left.state, 'stopped');
  assert.equal(left.movedTo?.host, 'host2');
  there.close();
  // The move's checkpoint on host2 has no lazy page in its images: a restore of it is refused, never made of others.
  await api(host2, 'POST', `/api/desktops/${id}/stop`, {});
  const again = await api<Failure>(host2, 'POST', `/api/checkpoints/${body.checkpoint}/restore`, {});
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.match(again.body.error.message, /was dumped for a lazy move: part of its memory was never in its images/);
});

test('a lazy move the target refuses: the desktop runs on the source again, over the same viewer connection', async () => {
  // host3 lists host1 under another key: it refuses host1's archives (before any restore, so nothing was fetched).
  const host3 = await fleet.start(3, { peers: (list) => list.map((p) => (p.id === 'host1' ? { ...p, publicKey: host2.keyLine } : p)) });
  const id = await startDesktop(host1);
  const viewer = await HostViewer.open(host1, id);
  await viewer.moves();
  const refused = await api<Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host3', method: 'lazy' });
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'untrusted');
  assert.match(refused.body.error.message, /host host3 refused: .*it runs on this host again/);
  const back = await desktopOn(host1, id);
  assert.equal(back.state, 'running');
  // Its lazy pages fetched from the dump's own page server into the images (criu/lazyFetch.ts), which ended that
  // dump as served; then an ordinary restore of the checkpoint it froze at.
  const restores = (await checkpointOn(host1, back.lastCheckpoint!)).restores;
  assert.equal(restores.at(-1)?.ok, true, JSON.stringify(restores));
  const log = await readFile(path.join(host1.stateDir, 'checkpoints', back.lastCheckpoint!, 'dump.log'), 'utf8');
  assert.match(log, /Lazy pages transfer finished successfully/);
  await viewer.moves();
  assert.equal(viewer.closedWith, undefined, 'the same connection: nothing of the session was lost');
  assert.equal((await desktopOn(host3, id).catch(() => undefined))?.state, undefined, 'host3 kept nothing of it');
  viewer.close();
  await api(host1, 'POST', `/api/desktops/${id}/stop`, {});
  await host3.stop('SIGKILL');
});

test('the source vanishes mid-fetch: the target ends the desktop as failed, in CRIU\'s words', async () => {
  const id = await startDesktop(host1);
  const moving = api<Moved & Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host2', method: 'lazy' });
  // The dump serving (the desktop frozen on host1, its criu known): its pages slowed to 8 Mbit/s on host1's link
  // (xclock's desktop has ~13 MB of lazy pages: seconds), so that the move answers while they are still coming.
  let dumpPid = 0;
  let port = '';
  await eventually(async () => {
    const desktop = await desktopOn(host1, id);
    assert.equal(desktop.state, 'checkpointed', 'frozen on host1');
    dumpPid = desktop.lastOperation?.criuPid ?? 0;
    const cmdline = dumpPid > 0 ? (await readFile(`/proc/${dumpPid}/cmdline`, 'utf8').catch(() => '')).split('\0') : [];
    assert.ok(cmdline.includes('--lazy-pages'), 'the lazy dump runs');
    port = cmdline[cmdline.indexOf('--port') + 1];
  }, 60_000);
  const tc = (...args: string[]) => execa('ip', ['netns', 'exec', host1.netns, 'tc', ...args]);
  await tc('qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '20');
  await tc('class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '8mbit');
  await tc('class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '10gbit');
  await tc('filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'sport', port, '0xffff', 'flowid', '1:10');
  try {
    const { status, body } = await moving;
    assert.equal(status, 200, JSON.stringify(body));
    const there = await desktopOn(host2, id);
    assert.equal(there.state, 'running');
    assert.ok(there.fetching, 'host2 still fetching pages when the move answered');
    // The source vanishes: its dump (the page server) killed.
    process.kill(dumpPid, 'SIGKILL');
    await eventually(async () => {
      const desktop = await desktopOn(host2, id);
      assert.equal(desktop.state, 'failed', `host2's desktop ends failed (${desktop.state})`);
      assert.match(desktop.lastError?.message ?? '', /the lazy restore of checkpoint .* did not complete: .*Error \(criu\//);
      console.log(`source gone mid-fetch: ${desktop.lastError?.message}`);
    }, 60_000);
  } finally {
    await tc('qdisc', 'del', 'dev', 'eth0', 'root').catch(() => {});
  }
});

test('freezeframe move --method lazy: the CLI moves it, and exits once its dump has served every page', async () => {
  const id = await startDesktop(host1);
  const [cmd, ...args] = inHost(host1.netns, [process.execPath, 'bin/freezeframe.js', 'move', id, 'host2', '--method', 'lazy']);
  const run = await execa(cmd, args, { env: host1.env, reject: false });
  assert.equal(run.exitCode, 0, run.stdout + run.stderr);
  const moved = JSON.parse(run.stdout) as Moved;
  assert.equal(moved.method, 'lazy');
  // The CLI's own dump served the pages before it exited: gone, and its checkpoint with it.
  assert.equal(await alive(moved.lazy!.dumpPid), false, 'the dump exited before the CLI did');
  assert.equal(await exists(path.join(host1.stateDir, 'checkpoints', moved.checkpoint)), false, 'the move checkpoint removed on host1');
  const { desktop, lazy } = await fetched(host2, id, moved.checkpoint);
  assert.equal(desktop.state, 'running');
  assert.equal(lazy.ok, true, JSON.stringify(lazy));
  const there = await HostViewer.open(host2, id);
  await there.moves();
  there.close();
  await api(host2, 'POST', `/api/desktops/${id}/stop`, {});
});
