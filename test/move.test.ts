// Moving a running desktop to another host (issue #14 part 2, faults of part 4), with real hosts: servers in network
// namespaces of their own (test/support/testHosts.ts), real Xvnc and criu, a viewer over each host's bridge.
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Paths } from '../server/desktops/records';
import { roomOf } from '../server/desktops/rooms';
import { execa } from 'execa';
import { FreezeframeClient } from '../client/index.js';
import { inHost } from './support/testHosts';
import { api, HostViewer, makeFleet, startDesktop, type Fleet, type FleetHost } from './support/fleetHosts';
import { eventually } from './support/eventually';

type Desktop = { id: string; state: string; movedTo?: { host: string; checkpoint: string } };
type Failure = { error: { code: string; message: string } };

let fleet: Fleet;
let host1: FleetHost;
let host2: FleetHost;

before(async () => {
  fleet = await makeFleet({ subnet: 170, port: 3570, size: 6, displays: (n) => `${186 + 4 * n}-${189 + 4 * n}` });
  [host1, host2] = await Promise.all([fleet.start(1), fleet.start(2)]);
});
after(async () => fleet?.dispose());

const desktopOn = async (host: FleetHost, id: string) => (await api<{ desktop: Desktop }>(host, 'GET', `/api/desktops/${id}`)).body.desktop;
const netnsExists = (host: FleetHost, id: string) => access(roomOf(new Paths(host.stateDir), id).netnsPath).then(() => true, () => false);

test('a desktop moves with its viewer open: frozen on host1, running on host2 where the picture moves; and back', async () => {
  const id = await startDesktop(host1);
  const viewer = await HostViewer.open(host1, id);
  await viewer.moves();
  // Through freezeframe/client, as a test suite would.
  const body = await new FreezeframeClient({ url: host1.url, token: host1.token }).move(id, 'host2');
  assert.equal(body.host, 'host2');
  assert.equal(body.method, 'copy');
  assert.ok(body.bytesSent > 100_000, `the archive was sent (${body.bytesSent} bytes)`);
  // The viewer is told its session goes on elsewhere (4001: it reconnects by itself).
  assert.equal(await viewer.closed, 4001);
  const left = await desktopOn(host1, id);
  assert.equal(left.state, 'stopped');
  assert.equal(left.movedTo?.host, 'host2');
  assert.equal(await netnsExists(host1, id), false, 'host1 freed its namespace');
  assert.equal((await desktopOn(host2, id)).state, 'running');
  const there = await HostViewer.open(host2, id);
  await there.moves();
  // host1 refuses to restore what now runs on host2.
  const again = await api<Failure>(host1, 'POST', `/api/checkpoints/${body.checkpoint}/restore`, {});
  assert.notEqual(again.status, 200);

  // Back, its memory through criu's page server: host1 has the record of a desktop that left; it takes it in again
  // with the home it comes back with.
  const back = await api<{ host: string; method: string; bytesSent: number } & Failure>(host2, 'POST', `/api/desktops/${id}/move`, { host: 'host1', method: 'page-server' });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal(back.body.method, 'page-server');
  assert.equal(await there.closed, 4001);
  assert.equal((await desktopOn(host1, id)).state, 'running');
  assert.equal((await desktopOn(host1, id)).movedTo, undefined);
  assert.equal((await desktopOn(host2, id)).movedTo?.host, 'host1');
  const home = await HostViewer.open(host1, id);
  await home.moves();
  home.close();
  await api(host1, 'POST', `/api/desktops/${id}/stop`, {});
});

test('bad input: an unknown host, a desktop not running, a target that refuses the signature; nothing lost', async () => {
  // host3 lists host1 under another key: it refuses host1's archives.
  const host3 = await fleet.start(3, { peers: (list) => list.map((p) => (p.id === 'host1' ? { ...p, publicKey: host2.keyLine } : p)) });
  const id = await startDesktop(host1);
  const viewer = await HostViewer.open(host1, id);

  const unknown = await api<Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host9' });
  assert.equal(unknown.status, 404);
  assert.match(unknown.body.error.message, /no host host9 in the fleet \(hosts: host2, host3, host4, host5, host6\)/);
  const self = await api<Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host1' });
  assert.equal(self.status, 400);
  const method = await api<Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host2', method: 'teleport' });
  assert.equal(method.status, 400);
  assert.equal((await desktopOn(host1, id)).state, 'running', 'nothing was frozen for a move that could not be');

  const refused = await api<Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host3' });
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'untrusted');
  assert.match(refused.body.error.message, /host host3 refused: refused: the archive is signed by ed25519:.*a key this installation does not trust.*it runs on this host again/);
  // Back from the images it froze at, over the same connection: the viewer never noticed more than a freeze.
  assert.equal((await desktopOn(host1, id)).state, 'running');
  await viewer.moves();
  assert.equal(viewer.closedWith, undefined);
  assert.equal((await desktopOn(host3, id).catch(() => undefined))?.state, undefined, 'host3 kept nothing of it');
  assert.deepEqual((await readdir(path.join(host3.stateDir, 'checkpoints')).catch(() => [])), []);

  const stopped = await api<{ desktop: Desktop }>(host1, 'POST', `/api/desktops/${id}/stop`, {});
  assert.equal(stopped.status, 200);
  const notRunning = await api<Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host2' });
  assert.equal(notRunning.status, 409);
  assert.match(notRunning.body.error.message, /is stopped: only a running desktop moves/);
  viewer.close();
});

test('the target dies mid-move: the desktop runs on the source again, its viewer still connected', async () => {
  const host4 = await fleet.start(4);
  const id = await startDesktop(host1);
  const viewer = await HostViewer.open(host1, id);
  await viewer.moves();
  const moving = api<Failure>(host1, 'POST', `/api/desktops/${id}/move`, { host: 'host4' });
  // The archive arriving on host4 (its upload's temp file): host4 dies with it.
  await eventually(async () => {
    const files = await readdir(path.join(host4.stateDir, 'transfers')).catch(() => [] as string[]);
    assert.ok(files.length > 0, 'the upload started');
  }, 60_000);
  await host4.stop('SIGKILL');
  const { status, body } = await moving;
  assert.equal(status, 502, JSON.stringify(body));
  assert.match(body.error.message, /move of desktop .* to host host4 failed: .*it runs on this host again/);
  assert.equal((await desktopOn(host1, id)).state, 'running');
  await viewer.moves();
  assert.equal(viewer.closedWith, undefined, 'the same connection: nothing of the session was lost');
  viewer.close();
  await api(host1, 'POST', `/api/desktops/${id}/stop`, {});
});

test('the source dies once the archive is sent: the target has everything and finishes the restore', async () => {
  const host5 = await fleet.start(5);
  const id = await startDesktop(host5);
  // The archive whole on host2 (its import starts unpacking: imports/import-*): the source dies there, while host2
  // has its unpack, signature check, import and restore ahead of it (hundreds of ms).
  const watcher = watch(host2.stateDir, { recursive: true });
  const unpacking = new Promise<void>((resolve) => watcher.on('change', (_type, name) => {
    if (/^imports(\/|$)/.test(String(name))) resolve();
  }));
  const moving = api(host5, 'POST', `/api/desktops/${id}/move`, { host: 'host2' }).catch((error: Error) => error);
  const first = await Promise.race([unpacking.then(() => 'unpacking'), moving.then(() => 'answered')]);
  watcher.close();
  assert.equal(first, 'unpacking', 'host2 unpacks the archive before the move answers');
  await host5.stop('SIGKILL');
  assert.ok((await moving) instanceof Error, 'the source died before it answered');
  await eventually(async () => assert.equal((await desktopOn(host2, id)).state, 'running'), 60_000);
  const viewer = await HostViewer.open(host2, id);
  await viewer.moves();
  viewer.close();
});

test('freezeframe move: the CLI moves a desktop; the source\'s server learns it from the record and closes its viewers', async () => {
  const id = await startDesktop(host1);
  const viewer = await HostViewer.open(host1, id);
  const [cmd, ...args] = inHost(host1.netns, [process.execPath, 'bin/freezeframe.js', 'move', id, 'host2']);
  const run = await execa(cmd, args, { env: host1.env, reject: false });
  assert.equal(run.exitCode, 0, run.stdout + run.stderr);
  const moved = JSON.parse(run.stdout) as { host: string; method: string };
  assert.deepEqual([moved.host, moved.method], ['host2', 'copy']);
  assert.equal(await viewer.closed, 4001);
  assert.equal((await desktopOn(host2, id)).state, 'running');
  const there = await HostViewer.open(host2, id);
  await there.moves();
  there.close();
  const unknown = await execa(cmd, [...args.slice(0, -1), 'host9'], { env: host1.env, reject: false });
  assert.equal(unknown.exitCode, 1);
  assert.match(JSON.parse(unknown.stdout).error.message, /moved to host host2 already|no host host9/);
  await api(host2, 'POST', `/api/desktops/${id}/stop`, {});
});

test('the source dies mid-move and starts again: the desktop runs on exactly one host, nothing lost', async () => {
  const host6 = await fleet.start(6);
  const id = await startDesktop(host6);
  const moving = api(host6, 'POST', `/api/desktops/${id}/move`, { host: 'host2' }).catch((error: Error) => error);
  // The archive on its way (host2's upload file): the source dies; whether the archive got through whole decides
  // where the desktop lives, and the restarted source must learn which.
  await eventually(async () => {
    const files = await readdir(path.join(host2.stateDir, 'transfers')).catch(() => [] as string[]);
    assert.ok(files.some((f) => f.endsWith('.upload.tar')), 'the upload started');
  }, 60_000);
  await host6.stop('SIGKILL', { keepState: true });
  assert.ok((await moving) instanceof Error, 'the source died before it answered');
  const again = await fleet.start(6, { stateDir: host6.stateDir });
  const where = await eventually(async () => {
    const [here, there] = [await desktopOn(again, id), await desktopOn(host2, id).catch(() => undefined)];
    const running = [here.state === 'running' ? 'host6' : undefined, there?.state === 'running' ? 'host2' : undefined].filter(Boolean);
    assert.equal(running.length, 1, `running on exactly one host (host6 ${here.state}, host2 ${there?.state})`);
    if (running[0] === 'host2') assert.equal(here.movedTo?.host, 'host2');
    assert.equal((here as { moving?: unknown }).moving, undefined);
    return running[0] === 'host2' ? host2 : again;
  }, 60_000);
  const viewer = await HostViewer.open(where, id);
  await viewer.moves();
  viewer.close();
  await api(where, 'POST', `/api/desktops/${id}/stop`, {});
  await again.stop(); // host6's address is the next test's
});

test('the source dies before its archive left, and starts again: the desktop runs on it again', async () => {
  const host6 = await fleet.start(6);
  const id = await startDesktop(host6);
  // The record says moving (set just before the archive is packed, which takes a while): the source dies there.
  const dir = path.join(host6.stateDir, 'desktops', id);
  const watcher = watch(dir);
  const marked = new Promise<void>((resolve) => watcher.on('change', () => {
    void readFile(path.join(dir, 'desktop.json'), 'utf8').then((text) => {
      if (text.includes('"moving"')) resolve();
    }, () => {});
  }));
  const moving = api(host6, 'POST', `/api/desktops/${id}/move`, { host: 'host2' }).catch((error: Error) => error);
  await marked;
  watcher.close();
  await host6.stop('SIGKILL', { keepState: true });
  assert.ok((await moving) instanceof Error, 'the source died before it answered');
  assert.equal((await desktopOn(host2, id))?.state, undefined, 'host2 never got it');
  const again = await fleet.start(6, { stateDir: host6.stateDir });
  await eventually(async () => {
    const here = await desktopOn(again, id);
    assert.equal(here.state, 'running');
    assert.equal((here as { moving?: unknown }).moving, undefined);
    assert.equal(here.movedTo, undefined);
  }, 60_000);
  const viewer = await HostViewer.open(again, id);
  await viewer.moves();
  viewer.close();
  await api(again, 'POST', `/api/desktops/${id}/stop`, {});
});
