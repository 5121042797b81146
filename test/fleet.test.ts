// The fleet (issue #14) with real hosts: three test hosts (network namespaces on one bridge, each the real server
// with its own address, token and state folder), a real etcd on the bridge's gateway, real desktops. Membership and
// a killed host's lease running out, the catalog without secrets, placement by free memory, a desktop of host 2
// opened through host 1 (page and relayed VNC: the picture moves), and etcd stopped and back.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { execa } from 'execa';
import { RfbClient, wsTransport } from '../server/vnc/rfbClient';
import type { FleetSnapshot } from '../lib/fleetTypes';
import { eventually } from './support/eventually';
import { makeFleet, type Fleet } from './support/fleetHosts';
import type { TestEtcd } from './support/etcd';
import type { TestHost } from './support/testHosts';

const port = 3550;
const GiB = 1024 ** 3;
// Fake free memory per host (FREEZEFRAME_TEST_MEM_AVAILABLE, the test seam of server/fleet/hostInfo.ts): every test
// host reads the same /proc/meminfo. Host 2 has the most.
const memory = { 1: 2 * GiB, 2: 8 * GiB, 3: 1 * GiB } as const;

let testFleet: Fleet & { etcd: TestEtcd };

before(async () => {
  testFleet = await makeFleet({
    subnet: 150 + Math.floor(Math.random() * 20), port, etcdPort: 3560, size: 3, started: 3, id: (n) => `h${n}`,
    displays: (n) => `${160 + n * 3}-${162 + n * 3}`, memory: (n) => memory[n as 1 | 2 | 3],
  });
});

after(async () => testFleet?.dispose());

const [h1, h2, h3] = [0, 1, 2].map((i) => () => testFleet.hosts[i]);

async function api<T = any>(host: TestHost, urlPath: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; body: T; text: string }> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${host.token}`);
  if (init.json !== undefined) headers.set('Content-Type', 'application/json');
  const response = await fetch(`${host.url}${urlPath}`, { ...init, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body, signal: AbortSignal.timeout(60_000) });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

// Every assert.ok here says what it checks: without a message, node builds one by parsing the failing line's source,
// and under tsx the file is one long line: each failed try inside eventually() then took tens of seconds of CPU,
// blocking the test's own timers (a 10 s wait ran 340 s in CI).
const fleetOf = async (host: TestHost) => (await api<{ fleet: FleetSnapshot }>(host, '/api/fleet')).body.fleet;

/** Everything the fleet keeps in etcd, as text. */
async function etcdText(): Promise<string> {
  const r = await fetch(`${testFleet.etcd.loopbackUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/freezeframe/').toString('base64'), range_end: Buffer.from('/freezeframe0').toString('base64') }) });
  const { kvs = [] } = (await r.json()) as { kvs?: { key: string; value: string }[] };
  return kvs.map((kv) => `${Buffer.from(kv.key, 'base64')} ${Buffer.from(kv.value, 'base64')}`).join('\n');
}

/** The VNC WebSocket of desktop `id` through `host`, an RFB session on it; resolves once the picture moved twice. */
async function pictureMovesThrough(host: TestHost, id: string, password: string) {
  const ws = new WebSocket(`ws://${host.address}:${host.port}/api/desktops/${id}/vnc`, ['binary'], { headers: { Authorization: `Bearer ${host.token}` } });
  const timer = setTimeout(() => ws.terminate(), 20_000); // a relay that hangs fails the test, not the run
  // The transport before 'open': Xvnc's greeting can come in the same chunk as the 101 and be emitted before a
  // listener added after awaiting 'open' (seen: 12 bytes received, the handshake waiting for them forever).
  const transport = wsTransport(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('close', () => reject(new Error('closed before it opened')));
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  const rfb = await RfbClient.over(transport, { password });
  try {
    const first = rfb.updates;
    // xclock -update 1: the second hand moves the picture every second.
    await eventually(() => assert.ok(rfb.updates >= first + 2, `updates: ${rfb.updates}`), 15_000);
    return { width: rfb.width, height: rfb.height, updates: rfb.updates };
  } finally {
    clearTimeout(timer);
    rfb.transport.close();
  }
}

let remote: { id: string; vncPassword: string };
let local: { id: string };

test('three hosts join: each is a Peer in etcd (id, url, key line, free memory), none with a secret; every host sees all', { timeout: 120_000 }, async () => {
  for (const host of testFleet.hosts) {
    const fleet = await eventually(async () => {
      const f = await fleetOf(host);
      assert.deepEqual(f.hosts.map((p) => p.id), ['h1', 'h2', 'h3']);
      return f;
    });
    assert.equal(fleet.fresh, true);
    assert.equal(fleet.self, host.name.replace('host', 'h'));
    const peer2 = fleet.hosts.find((p) => p.id === 'h2')!;
    assert.equal(peer2.url, `http://10.213.${testFleet.network.subnet}.3:${port}`);
    assert.equal(peer2.memAvailableBytes, memory[2]);
    assert.match(peer2.publicKey, /^ed25519:\S+ /);
  }
  const stored = await etcdText();
  for (const secret of [testFleet.key, ...testFleet.hosts.map((h) => h.token)]) assert.ok(!stored.includes(secret), 'no token or fleet key in etcd');
  // On a single host (test hosts without FREEZEFRAME_ETCD, like every other test's server) there is no fleet route.
});

test('placement: a start without a host goes to the host with the most free memory (forwarded with the fleet key); one asked for goes there', { timeout: 120_000 }, async () => {
  const placed = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'] } });
  assert.equal(placed.status, 201, placed.text);
  assert.equal(placed.body.host, 'h2', 'h2 has the most free memory');
  assert.ok(placed.body.desktop.vncPassword, 'the starter gets the password, as for a local start');
  remote = { id: placed.body.desktop.id, vncPassword: placed.body.desktop.vncPassword };
  const onH2 = await api(h2(), '/api/desktops');
  assert.ok(onH2.body.desktops.some((d: { id: string }) => d.id === remote.id), 'the desktop runs on h2');
  const onH1 = await api(h1(), '/api/desktops');
  assert.ok(!onH1.body.desktops.some((d: { id: string }) => d.id === remote.id), 'not on h1');

  const asked = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'], host: 'h1' } });
  assert.equal(asked.status, 201, asked.text);
  assert.equal(asked.body.host, 'h1');
  local = { id: asked.body.desktop.id };
  const unknown = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'], host: 'h9' } });
  assert.equal(unknown.status, 404);
  assert.match(unknown.body.error.message, /no host h9 in the fleet/);
});

test('the catalog: host 1 lists host 2\'s desktop and its checkpoint with their host and state, without a secret', { timeout: 120_000 }, async () => {
  const checkpoint = await api(h2(), `/api/desktops/${remote.id}/checkpoint`, { method: 'POST', json: { leaveRunning: true } });
  assert.equal(checkpoint.status, 201, checkpoint.text);
  const fleet = await eventually(async () => {
    const f = await fleetOf(h1());
    const d = f.desktops.find((x) => x.id === remote.id);
    assert.equal(d?.host, 'h2');
    assert.equal(d?.state, 'running');
    assert.ok(f.checkpoints.some((c) => c.id === checkpoint.body.checkpoint.id && c.host === 'h2' && c.state === 'complete'), 'the checkpoint is listed on h2, complete');
    assert.ok(f.desktops.some((x) => x.id === local.id && x.host === 'h1'), 'h1\'s own desktop is listed on h1');
    return f;
  });
  const shown = JSON.stringify(fleet) + (await etcdText());
  assert.ok(!shown.includes(remote.vncPassword), 'no VNC password in the fleet view or etcd');
  assert.ok(!/vncPassword|vncViewPassword/.test(shown), 'no password field');
  // The dashboard of host 1 lists it with its host.
  const page = await api(h1(), '/');
  assert.match(page.text, new RegExp(`data-desktop="${remote.id}" data-host="h2"`));
});

test('a desktop on host 2 opened through host 1: its page renders and its VNC is relayed (the picture moves)', { timeout: 120_000 }, async () => {
  const detail = await api(h1(), `/api/desktops/${remote.id}`);
  assert.equal(detail.status, 200, detail.text);
  assert.equal(detail.body.host, 'h2');
  assert.equal(detail.body.vncPassword, remote.vncPassword);
  const page = await api(h1(), `/desktops/${remote.id}`);
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(remote.id), 'the page names the desktop');
  const started = performance.now();
  const seen = await pictureMovesThrough(h1(), remote.id, remote.vncPassword);
  console.log(`relayed through h1: ${seen.width}x${seen.height}, ${seen.updates} updates, first moves in ${Math.round(performance.now() - started)} ms`);
  // Without host 1's token (or the fleet key) the relay opens nothing.
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://${h1().address}:${port}/api/desktops/${remote.id}/vnc`, ['binary']);
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => resolve(101));
    ws.once('error', () => {});
  });
  assert.equal(refused, 401);
  // The page's buttons work too: a snapshot asked of host 1 is taken on host 2 (the call forwarded with the fleet key).
  const snap = await api(h1(), `/api/desktops/${remote.id}/checkpoint`, { method: 'POST', json: { leaveRunning: true } });
  assert.equal(snap.status, 201, snap.text);
  assert.equal(snap.body.checkpoint.desktop, remote.id);
  const onH2 = await api(h2(), `/api/desktops/${remote.id}`);
  assert.ok(onH2.body.checkpoints.some((c: { id: string }) => c.id === snap.body.checkpoint.id), 'the checkpoint is on host 2');
});

test('freezeframe move in an etcd fleet: the CLI finds the target in etcd; the catalog then lists the desktop on it', { timeout: 180_000 }, async () => {
  const started = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'], host: 'h1' } });
  assert.equal(started.status, 201, started.text);
  const id: string = started.body.desktop.id;
  const keyFile = testFleet.keyFile;
  const env = {
    ...process.env,
    FREEZEFRAME_STATE_DIR: h1().stateDir,
    FREEZEFRAME_KEY_DIR: path.join(h1().stateDir, 'keys'),
    FREEZEFRAME_ETCD: testFleet.etcd.url,
    FREEZEFRAME_HOST_ID: 'h1',
    FREEZEFRAME_FLEET_KEY_FILE: keyFile,
  };
  const moved = await execa('nsenter', [`--net=/run/netns/${h1().netns}`, '--', process.execPath, 'bin/freezeframe.js', 'move', id, 'h3'], { env, reject: false });
  assert.equal(moved.exitCode, 0, moved.stdout + moved.stderr);
  assert.equal(JSON.parse(moved.stdout).host, 'h3');
  const onH3 = await api(h3(), `/api/desktops/${id}`);
  assert.equal(onH3.body.desktop.state, 'running', onH3.text);
  await eventually(async () => {
    const d = (await fleetOf(h2())).desktops.find((x) => x.id === id);
    assert.equal(d?.host, 'h3', 'the catalog lists it on its new host');
    assert.equal(d?.state, 'running');
  });
});

test('etcd stopped: every host keeps serving its own desktops and says the fleet view is stale; etcd back: fresh again', { timeout: 120_000 }, async () => {
  await testFleet.etcd.stop();
  const stoppedAt = performance.now();
  try {
    const stale = await eventually(async () => {
      const f = await fleetOf(h1());
      assert.equal(f.fresh, false);
      return f;
    }, 10_000);
    console.log(`h1's view stale ${Math.round(performance.now() - stoppedAt)} ms after etcd stopped`);
    assert.ok(stale.desktops.some((d) => d.id === remote.id), 'the last view is still shown');
    assert.match((await api(h1(), '/')).text, /data-testid="fleet-stale"/);
    // Host 1's own desktop: its detail, its VNC (the picture moves) and a new start (here: no placement on a stale view).
    const mine = await api(h1(), `/api/desktops/${local.id}`);
    assert.equal(mine.status, 200);
    await pictureMovesThrough(h1(), local.id, mine.body.vncPassword);
    const started = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'] } });
    assert.equal(started.status, 201, started.text);
    assert.equal(started.body.host, 'h1');
    // Host 2 too.
    const theirs = await api(h2(), `/api/desktops/${remote.id}`);
    await pictureMovesThrough(h2(), remote.id, theirs.body.vncPassword);
    local = { id: started.body.desktop.id };
  } finally {
    await testFleet.etcd.start();
  }
  const backAt = performance.now();
  await eventually(async () => {
    const f = await fleetOf(h1());
    assert.equal(f.fresh, true);
    assert.ok(f.desktops.some((d) => d.id === local.id && d.host === 'h1'), 'what started during the outage is in the catalog');
  }, 20_000);
  console.log(`fresh again, with what started meanwhile, ${Math.round(performance.now() - backAt)} ms after etcd answered`);
  assert.doesNotMatch((await api(h1(), '/')).text, /data-testid="fleet-stale"/);
});

test('a host killed (SIGKILL) leaves the fleet when its lease runs out', { timeout: 120_000 }, async () => {
  await eventually(async () => assert.ok((await fleetOf(h1())).hosts.some((p) => p.id === 'h3'), 'h3 is in the fleet'), 20_000);
  const onH3 = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'], host: 'h3' } });
  assert.equal(onH3.status, 201, onH3.text);
  await eventually(async () => assert.ok((await fleetOf(h1())).desktops.some((d) => d.id === onH3.body.desktop.id), 'h1 lists the desktop on h3'));
  const killedAt = performance.now();
  await h3().stop('SIGKILL');
  // Until its lease runs out the catalog still names h3: the relay says it cannot reach it (no hang, no other host).
  const relayed = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://${h1().address}:${port}/api/desktops/${onH3.body.desktop.id}/vnc`, ['binary'], { headers: { Authorization: `Bearer ${h1().token}` } });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => resolve(101));
    ws.once('error', () => resolve(-1));
  });
  assert.equal(relayed, 502);
  await eventually(async () => assert.ok(!(await fleetOf(h1())).hosts.some((p) => p.id === 'h3'), 'h3 has left the fleet'), 20_000);
  const goneMs = performance.now() - killedAt;
  console.log(`h3 left the fleet ${Math.round(goneMs)} ms after SIGKILL (lease TTL 10 s, kept alive every 3.3 s)`);
  assert.ok(goneMs > 3_000, 'not before its lease could expire');
  assert.ok(!(await fleetOf(h1())).desktops.some((d) => d.id === onH3.body.desktop.id), 'its desktops went with its lease');
  // Host 2 reads etcd on its own second: it follows within one poll.
  await eventually(async () => assert.deepEqual((await fleetOf(h2())).hosts.map((p) => p.id), ['h1', 'h2']), 3_000);
});
