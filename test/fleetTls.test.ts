// The fleet over TLS (issue #14) with real hosts: a throwaway CA (openssl) signs each test host's certificate (SAN:
// its address) and etcd's; two hosts serve HTTPS (FREEZEFRAME_TLS_CERT/KEY), trust that CA (FREEZEFRAME_FLEET_CA) and
// use an https etcd. The fleet forms, a desktop of host 2 opens through host 1 (a real RFB handshake over wss:// to
// host 1, relayed over TLS to host 2), a move (copy) goes over TLS; a peer whose certificate another CA signed, or
// one at an http:// URL, is refused with the reason and receives no byte of the request (recorders on the bridge's
// gateway, a test-host address); the single-host server serves its dashboard and API over HTTPS on loopback, with
// admission's allowed hosts. Ports of its own (3661-3667, etcd 3664): it can run beside the other fleet tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import type { FleetSnapshot } from '../lib/fleetTypes';
import { peerFetch, type FleetTrust } from '../server/fleet/peerCall';
import { sseParser, type FeedMessage } from '../server/fleet/remoteEvents';
import { RfbClient, wsTransport } from '../server/vnc/rfbClient';
import type { TestEtcd } from './support/etcd';
import { eventually } from './support/eventually';
import { startExposedServer } from './support/exposedServer';
import { makeCa, type TestCa } from './support/testCa';
import { makeFleet, type Fleet } from './support/fleetHosts';
import type { TestHost } from './support/testHosts';

const port = 3661;

let testFleet: Fleet & { etcd: TestEtcd };
let other: TestCa;
let trust: FleetTrust;
const closers: (() => void)[] = [];
const h1 = () => testFleet.hosts[0];
const h2 = () => testFleet.hosts[1];

before(async () => {
  testFleet = await makeFleet({
    subnet: 190 + Math.floor(Math.random() * 10), port, etcdPort: 3664, size: 2, started: 2, id: (n) => `h${n}`,
    displays: (n) => `${178 + n * 2}-${179 + n * 2}`, tls: {},
  });
  trust = testFleet.trust!;
  other = await makeCa('other');
});

after(async () => {
  for (const close of closers) close();
  await other?.dispose();
  await testFleet?.dispose();
});

/** A call to a host's API over https (this test trusts the fleet's CA) with its token. */
async function api<T = any>(host: TestHost, urlPath: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; body: T; text: string }> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${host.token}`);
  if (init.json !== undefined) headers.set('Content-Type', 'application/json');
  const response = await peerFetch(`${host.url}${urlPath}`, { ...init, headers, trust, body: init.json !== undefined ? JSON.stringify(init.json) : init.body, timeoutMs: 120_000 });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

const fleetOf = async (host: TestHost) => (await api<{ fleet: FleetSnapshot }>(host, '/api/fleet')).body.fleet;

/** The VNC WebSocket of desktop id over wss:// to host, or the upgrade's refusal (status and text). */
function openVnc(host: TestHost, id: string): { ws: WebSocket; opened: Promise<{ status: number; text?: string }> } {
  const ws = new WebSocket(`wss://${host.address}:${host.port}/api/desktops/${id}/vnc`, ['binary'], { ca: [...trust.ca!], headers: { Authorization: `Bearer ${host.token}` } });
  const opened = new Promise<{ status: number; text?: string }>((resolve, reject) => {
    ws.once('open', () => resolve({ status: 101 }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
  });
  return { ws, opened };
}

/** A server on the bridge's gateway (a test-host address) that records every byte it receives: TLS with cert, else TCP. */
async function recorder(cert?: { cert: string; key: string }) {
  const received: Buffer[] = [];
  let connections = 0;
  const onSocket = (socket: net.Socket) => {
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
  };
  const server = cert ? tls.createServer({ cert: await readFile(cert.cert, 'utf8'), key: await readFile(cert.key, 'utf8') }, onSocket) : net.createServer(onSocket);
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  server.listen(0, testFleet.network.gateway);
  await once(server, 'listening');
  closers.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, text: () => Buffer.concat(received).toString('latin1'), connections: () => connections };
}

/** etcd's JSON gateway over https, as the test's own client. */
async function etcdPut(key: string, value: unknown) {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const r = await peerFetch(`${testFleet.etcd.loopbackUrl}/v3/kv/put`, { method: 'POST', trust, body: JSON.stringify({ key: b64(key), value: b64(JSON.stringify(value)) }) });
  assert.equal(r.status, 200, await r.text());
}

let remote: { id: string; vncPassword: string };

test('two hosts serving HTTPS form a fleet over an https etcd: each lists both, at their https URLs; the token\'s cookie is Secure', { timeout: 120_000 }, async () => {
  assert.match(h1().banner, /Freezeframe on https:\/\//);
  // The token traded for a cookie the browser sends only over HTTPS.
  const traded = await peerFetch(`${h1().url}/?token=${h1().token}`, { trust });
  assert.equal(traded.status, 303);
  assert.match(traded.headers.get('set-cookie') ?? '', /^freezeframe_token=.*; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
  for (const host of testFleet.hosts) {
    await eventually(async () => {
      const f = await fleetOf(host);
      assert.deepEqual(f.hosts.map((p) => `${p.id} ${p.url}`), [1, 2].map((n) => `h${n} https://10.213.${testFleet.network.subnet}.${n + 1}:${port}`));
      assert.equal(f.fresh, true);
    }, 20_000);
  }
});

test('a desktop on host 2 opened through host 1: the start and detail forwarded over TLS, its VNC relayed over TLS (RFB handshake, the picture moves), its events relayed live', { timeout: 120_000 }, async () => {
  const placed = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'], host: 'h2' } });
  assert.equal(placed.status, 201, placed.text);
  assert.equal(placed.body.host, 'h2');
  remote = { id: placed.body.desktop.id, vncPassword: placed.body.desktop.vncPassword };
  const detail = await api(h1(), `/api/desktops/${remote.id}`);
  assert.equal(detail.status, 200, detail.text);
  assert.equal(detail.body.host, 'h2');
  const { ws, opened } = openVnc(h1(), remote.id);
  const timer = setTimeout(() => ws.terminate(), 30_000); // a relay that hangs fails the test, not the run
  try {
    // The transport before 'open': the RFB greeting can come with the 101 (test/fleet.test.ts).
    const transport = wsTransport(ws);
    assert.equal((await opened).status, 101);
    const rfb = await RfbClient.over(transport, { password: remote.vncPassword });
    const first = rfb.updates;
    await eventually(() => assert.ok(rfb.updates >= first + 2, `updates: ${rfb.updates}`), 15_000);
    console.log(`relayed over TLS: ${rfb.width}x${rfb.height}, ${rfb.updates} updates`);
  } finally {
    clearTimeout(timer);
    ws.terminate();
  }
  // Its page's events: host 1 relays host 2's stream of it (an SSE response read over TLS as it comes).
  const abort = new AbortController();
  const events = await peerFetch(`${h1().url}/api/events?desktop=${remote.id}`, { trust, headers: { Authorization: `Bearer ${h1().token}` }, signal: abort.signal });
  assert.equal(events.status, 200);
  const messages: FeedMessage[] = [];
  const parse = sseParser((m) => messages.push(m));
  const reader = events.body!.getReader();
  const decoder = new TextDecoder();
  const live = () => messages.some((m) => m.event === 'remote' && (m.data as { host?: string; live?: boolean }).host === 'h2' && (m.data as { live?: boolean }).live === true);
  const giveUp = setTimeout(() => abort.abort(new Error('no live relay within 15 s')), 15_000);
  try {
    while (!live()) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended before the relay was live: ${JSON.stringify(messages)}`);
      parse(decoder.decode(value, { stream: true }));
    }
  } finally {
    clearTimeout(giveUp);
    abort.abort();
  }
});

test('a move (copy) from host 2 to host 1 over TLS: the archive streamed to host 1, the desktop runs there', { timeout: 180_000 }, async () => {
  const moved = await api(h2(), `/api/desktops/${remote.id}/move`, { method: 'POST', json: { host: 'h1', method: 'copy' } });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.body.host, 'h1');
  console.log(`moved over TLS: frozen ${Math.round(moved.body.frozenMs)} ms, ${moved.body.bytesSent} bytes`);
  const onH1 = await api(h1(), `/api/desktops/${remote.id}`);
  assert.equal(onH1.body.desktop.state, 'running', onH1.text);
});

test('a peer whose certificate another CA signed is refused with the reason and never receives the key; an http:// peer is not even connected', { timeout: 120_000 }, async () => {
  const rogue = await recorder(await other.issue('rogue', [testFleet.network.gateway]));
  const plain = await recorder();
  const keyLine = (await fleetOf(h1())).hosts[0].publicKey;
  const peers = { rogue: `https://${testFleet.network.gateway}:${rogue.port}`, plain: `http://${testFleet.network.gateway}:${plain.port}` };
  const ids = { rogue: `d-rogue${randomBytes(3).toString('hex')}`, plain: `d-plain${randomBytes(3).toString('hex')}` };
  for (const name of ['rogue', 'plain'] as const) {
    await etcdPut(`/freezeframe/hosts/${name}`, { id: name, url: peers[name], publicKey: keyLine, memAvailableBytes: 0, seenAt: new Date().toISOString() });
    await etcdPut(`/freezeframe/desktops/${ids[name]}`, { id: ids[name], host: name, state: 'running', geometry: '1024x768', apps: ['xclock'], kind: 'contained', updatedAt: new Date().toISOString() });
  }
  await eventually(async () => assert.ok((await fleetOf(h1())).desktops.some((d) => d.id === ids.plain), 'h1 lists the fake peers\' desktops'), 10_000);

  const detail = await api(h1(), `/api/desktops/${ids.rogue}`);
  assert.notEqual(detail.status, 200, detail.text);
  assert.match(detail.text, /TLS certificate of 10\.213\.\d+\.1:\d+ does not verify against FREEZEFRAME_FLEET_CA/);
  const start = await api(h1(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'], host: 'rogue' } });
  assert.notEqual(start.status, 201, start.text);
  assert.match(start.text, /does not verify/);
  const vnc = openVnc(h1(), ids.rogue);
  const refused = await vnc.opened;
  assert.equal(refused.status, 502);
  assert.match(refused.text ?? '', /the host rogue that runs this desktop: the TLS certificate .* does not verify/);
  assert.ok(rogue.connections() >= 3, `h1 reached the rogue server (${rogue.connections()} connections)`);
  assert.equal(rogue.text(), '', 'not one byte of a request (nor the fleet key) reached it');

  const clear = await api(h1(), `/api/desktops/${ids.plain}`);
  assert.notEqual(clear.status, 200, clear.text);
  assert.match(clear.text, /refusing to send the fleet key to http:\/\/10\.213\.\d+\.1:\d+ in clear/);
  const clearVnc = await openVnc(h1(), ids.plain).opened;
  assert.equal(clearVnc.status, 502);
  assert.match(clearVnc.text ?? '', /in clear/);
  assert.equal(plain.connections(), 0, 'the http:// peer was not even connected to');
  await peerFetch(`${testFleet.etcd.loopbackUrl}/v3/kv/deleterange`, { method: 'POST', trust, body: JSON.stringify({ key: Buffer.from('/freezeframe/hosts/p').toString('base64'), range_end: Buffer.from('/freezeframe/hosts/s').toString('base64') }) });
});

test('a single host over HTTPS on loopback: dashboard and API served, admission\'s allowed hosts hold, nothing in clear; a key others can read is refused', { timeout: 120_000 }, async () => {
  const cert = await testFleet.ca!.issue('loopback', ['127.0.0.1', 'localhost']);
  const server = await startExposedServer({ port: 3667, host: '127.0.0.1', displays: '188-189', env: { FREEZEFRAME_TLS_CERT: cert.cert, FREEZEFRAME_TLS_KEY: cert.key } });
  try {
    assert.match(server.banner, /Freezeframe on https:\/\/127\.0\.0\.1:3667/);
    const page = await peerFetch('https://127.0.0.1:3667/', { trust });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/);
    const list = await peerFetch('https://localhost:3667/api/desktops', { trust });
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(((await list.json()) as { desktops: unknown[] }).desktops), 'the API answers');
    const foreign = await peerFetch('https://127.0.0.1:3667/api/desktops', { trust, headers: { Host: 'evil.example:3667' } });
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as { error: { code: string } }).error.code, 'forbidden_host');
    const crossSite = await peerFetch('https://127.0.0.1:3667/api/desktops', { trust, method: 'POST', headers: { Origin: 'https://evil.example', 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(crossSite.status, 403);
    await assert.rejects(fetch('http://127.0.0.1:3667/api/desktops'), 'no plain HTTP on the HTTPS port');
  } finally {
    await server.stop();
  }
  await chmod(cert.key, 0o644);
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './server/runtime/register.js', 'server/main.ts'], {
    env: { ...process.env, PORT: '3668', HOST: '127.0.0.1', FREEZEFRAME_TLS_CERT: cert.cert, FREEZEFRAME_TLS_KEY: cert.key, FREEZEFRAME_DEFAULT_DESKTOP: '0', FREEZEFRAME_STATE_DIR: path.join(testFleet.dir, 'refused') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0, output);
  assert.match(output, /the TLS key .* \(FREEZEFRAME_TLS_KEY\) is readable or writable by others \(mode 644\): chmod 600 it/);
  assert.doesNotMatch(output, /Freezeframe on/);
});
