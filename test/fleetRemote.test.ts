// A desktop that runs on another host, used through this host like a local one (issue #14), with real hosts: two test
// hosts (network namespaces, the real servers with their own tokens), a real etcd on the bridge's gateway, real
// desktops and criu. Host 1 relays host 2's events of the desktop (its /api/events?desktop=), serves its audience
// link (watch view, events, freeze picture and VNC from host 2, view only: the audience's keys reach nothing), and
// forwards what its page asks of host 2's checkpoints (thumbnail, export, inspect, pin, clone, restore, delete) and of
// the desktop (stop, removal, retention); host 2 stopped and started again: the relay says stale, then relinks by
// itself. Ports of its own (etcd 3644): it can run beside test/fleet.test.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { readFile } from 'node:fs/promises';
import { RfbClient, wsTransport, type RfbOptions } from '../server/vnc/rfbClient';
import { Paths } from '../server/desktops/records';
import { roomOf } from '../server/desktops/rooms';
import { deriveViewToken } from '../server/auth';
import { sseParser, type FeedMessage } from '../server/fleet/remoteEvents';
import type { TestEtcd } from './support/etcd';
import { eventually } from './support/eventually';
import { makeFleet, type Fleet } from './support/fleetHosts';
import type { TestHost } from './support/testHosts';
import { clickAt, typeLine } from './support/viewer';

const port = 3641;

let testFleet: Fleet & { etcd: TestEtcd };
const h1 = () => testFleet.hosts[0];
const h2 = () => testFleet.hosts[1];

before(async () => {
  testFleet = await makeFleet({
    subnet: 170 + Math.floor(Math.random() * 20), port, etcdPort: 3644, size: 2, started: 2, id: (n) => `h${n}`,
    displays: (n) => `${174 + n * 2}-${175 + n * 2}`,
  });
});

after(async () => testFleet?.dispose());

async function api<T = any>(host: TestHost, urlPath: string, init: RequestInit & { json?: unknown; bearer?: string } = {}): Promise<{ status: number; body: T; text: string; headers: Headers; bytes: Buffer }> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `Bearer ${init.bearer ?? host.token}`);
  if (init.json !== undefined) headers.set('Content-Type', 'application/json');
  const response = await fetch(`${host.url}${urlPath}`, { ...init, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body, signal: AbortSignal.timeout(60_000) });
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = bytes.toString('utf8');
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text, headers: response.headers, bytes };
}

/** An event stream of a host, read as it comes: its messages, its raw text, and how to end it. */
function stream(host: TestHost, urlPath: string, bearer = host.token) {
  const messages: (FeedMessage & { receivedAt: number })[] = [];
  let text = '';
  const abort = new AbortController();
  const parse = sseParser((m) => messages.push({ ...m, receivedAt: Date.now() }));
  const done = (async () => {
    const response = await fetch(`${host.url}${urlPath}`, { headers: { Authorization: `Bearer ${bearer}` }, signal: abort.signal });
    assert.equal(response.status, 200, `${urlPath}: ${response.status}`);
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      const piece = decoder.decode(chunk, { stream: true });
      text += piece;
      parse(piece);
    }
  })().catch((error: Error) => {
    if (!abort.signal.aborted) throw error;
  });
  return { messages, text: () => text, close: async () => (abort.abort(), await done) };
}

/** The VNC WebSocket of desktop `id` through `host` with `bearer`, an RFB session on it with `options.password`. */
async function rfbThrough(host: TestHost, id: string, bearer: string, options: RfbOptions) {
  const ws = new WebSocket(`ws://${host.address}:${host.port}/api/desktops/${id}/vnc`, ['binary'], { headers: { Authorization: `Bearer ${bearer}` } });
  const timer = setTimeout(() => ws.terminate(), 30_000); // a relay that hangs fails the test, not the run
  // The transport before 'open': Xvnc's greeting can come in the same chunk as the 101 (test/fleet.test.ts).
  const transport = wsTransport(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('close', () => reject(new Error('closed before it opened')));
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  const rfb = await RfbClient.over(transport, options);
  rfb.once('closed', () => clearTimeout(timer));
  return rfb;
}

/** Through `host` with `bearer` and `password`: the picture moves (xclock's second hand). */
async function pictureMovesThrough(host: TestHost, id: string, password: string, bearer: string) {
  const rfb = await rfbThrough(host, id, bearer, { password });
  try {
    const first = rfb.updates;
    await eventually(() => assert.ok(rfb.updates >= first + 2, `updates: ${rfb.updates}`), 15_000);
  } finally {
    rfb.close();
  }
}

const relayedOn = async (host: TestHost) => (await api<{ relayedStreams: number }>(host, '/api/fleet')).body.relayedStreams;

let remote: { id: string; vncPassword: string };
let snapshotId: string;

test('host 1 relays host 2\'s events of a desktop to its page: a checkpoint taken on host 2 and the state change, no secret; the relay ends with the page', { timeout: 180_000 }, async () => {
  const started = await api(h2(), '/api/desktops', { method: 'POST', json: { apps: ['xclock'], host: 'h2' } });
  assert.equal(started.status, 201, started.text);
  remote = { id: started.body.desktop.id, vncPassword: started.body.desktop.vncPassword };
  // Host 1 reads the catalog once a second: it knows the owner once it lists the desktop.
  await eventually(async () => assert.equal((await api(h1(), `/api/desktops/${remote.id}`)).body?.host, 'h2', 'h1 reads the detail from h2'), 15_000);

  const page = stream(h1(), `/api/events?desktop=${remote.id}`);
  const other = stream(h1(), `/api/events?desktop=${remote.id}`);
  try {
    await eventually(() => assert.ok(page.messages.some((m) => m.event === 'remote' && (m.data as { host?: string; live: boolean }).host === 'h2' && (m.data as { live: boolean }).live), 'the page is told its events come from h2, live'), 10_000);
    assert.equal(await relayedOn(h1()), 1, 'two pages, one stream from h2');

    const snap = await api(h2(), `/api/desktops/${remote.id}/checkpoint`, { method: 'POST', json: { leaveRunning: true } });
    assert.equal(snap.status, 201, snap.text);
    snapshotId = snap.body.checkpoint.id;
    await eventually(() => assert.ok(page.messages.some((m) => m.event === 'desktop' && (m.data as any).checkpoint?.id === snapshotId && (m.data as any).type === 'checkpointed'), 'h1\'s stream has h2\'s checkpointed event with the checkpoint'), 10_000);
    const freeze = await api(h2(), `/api/desktops/${remote.id}/checkpoint`, { method: 'POST', json: {} });
    assert.equal(freeze.status, 201, freeze.text);
    await eventually(() => assert.ok(page.messages.some((m) => m.event === 'desktop' && (m.data as any).desktop.state === 'checkpointed' && (m.data as any).checkpoint?.id === freeze.body.checkpoint.id), 'the frozen state relayed'), 10_000);
    const restored = await api(h2(), `/api/checkpoints/${freeze.body.checkpoint.id}/restore`, { method: 'POST', json: {} });
    assert.equal(restored.status, 200, restored.text);
    await eventually(() => assert.ok(page.messages.some((m) => m.event === 'desktop' && (m.data as any).type === 'restored' && (m.data as any).desktop.state === 'running'), 'running again, relayed'), 10_000);
    await eventually(() => assert.ok(other.messages.some((m) => m.event === 'desktop' && (m.data as any).type === 'restored'), 'the other page got it too'));
    // How late host 1's page gets host 2's events: `at` is host 2's clock as it sent them (one machine, one clock).
    const delays = page.messages.filter((m) => m.event === 'desktop').map((m) => m.receivedAt - Date.parse((m.data as { at: string }).at));
    console.log(`relayed through h1: ${delays.length} events, ${Math.min(...delays)}-${Math.max(...delays)} ms after h2 sent them (median ${delays.sort((a, b) => a - b)[delays.length >> 1]} ms)`);
    const shown = page.text();
    for (const secret of [remote.vncPassword, testFleet.key, h1().token, h2().token]) assert.ok(!shown.includes(secret), 'no password, token or fleet key in the stream');
    assert.ok(!/vncPassword|vncViewPassword/.test(shown), 'no password field');
    assert.ok(page.messages.every((m) => m.event !== 'desktop' || (m.data as any).desktop.id === remote.id), 'that desktop\'s events only');
  } finally {
    await page.close();
    await other.close();
  }
  await eventually(async () => assert.equal(await relayedOn(h1()), 0, 'the last page left: h1 closed its stream from h2'), 10_000);
});

test('host 1\'s audience link of host 2\'s desktop: the watch view, its events, the freeze picture and the VNC come from host 2, view only', { timeout: 180_000 }, async () => {
  const view = deriveViewToken(h1().token, remote.id);
  // The link as the page shows it: the cookie traded for the token in the URL, then the watch page.
  const linked = await fetch(`${h1().url}/desktops/${remote.id}/watch?token=${encodeURIComponent(view)}`, { redirect: 'manual' });
  assert.equal(linked.status, 303);
  const cookie = linked.headers.get('set-cookie')!.split(';')[0];
  const watchPage = await fetch(`${h1().url}/desktops/${remote.id}/watch`, { headers: { Cookie: cookie } });
  assert.equal(watchPage.status, 200, 'the watch page of a desktop that runs on h2 renders on h1');

  const watch = await api(h1(), `/api/desktops/${remote.id}/watch`, { bearer: view });
  assert.equal(watch.status, 200, watch.text);
  assert.equal(watch.body.desktop.state, 'running');
  assert.ok(watch.body.desktop.vncViewPassword, 'the view-only password, read from h2');
  assert.notEqual(watch.body.desktop.vncViewPassword, remote.vncPassword);
  assert.ok(!watch.text.includes(remote.vncPassword), 'never the control password');
  // View only: nothing else of it through host 1.
  assert.equal((await api(h1(), `/api/desktops/${remote.id}`, { bearer: view })).status, 403, 'no detail');
  assert.equal((await api(h1(), `/api/desktops/${remote.id}/checkpoint`, { method: 'POST', json: {}, bearer: view })).status, 403, 'no checkpoint');
  // Its screen through host 1's relay with the view-only password; the control password is refused to no one, but
  // the audience never has it (Xvnc ignores the input of a view-only session: test/viewOnly.test.ts).
  await pictureMovesThrough(h1(), remote.id, watch.body.desktop.vncViewPassword, view);

  const events = stream(h1(), `/api/desktops/${remote.id}/watch/events`, view);
  try {
    await eventually(() => assert.ok(events.messages.some((m) => m.event === 'remote' && (m.data as any).live), 'linked to h2'), 10_000);
    const freeze = await api(h2(), `/api/desktops/${remote.id}/checkpoint`, { method: 'POST', json: {} });
    assert.equal(freeze.status, 201, freeze.text);
    await eventually(() => assert.ok(events.messages.some((m) => m.event === 'watch' && (m.data as any).desktop.state === 'checkpointed' && (m.data as any).desktop.frozenAt === freeze.body.checkpoint.id), 'the audience sees the freeze, relayed'), 10_000);
    // A late viewer during the freeze: the picture of the freeze, from h2.
    const picture = await api(h1(), `/api/desktops/${remote.id}/watch/thumbnail`, { bearer: view });
    assert.equal(picture.status, 200, picture.text.slice(0, 200));
    assert.equal(picture.headers.get('content-type'), 'image/png');
    assert.equal(picture.bytes.subarray(1, 4).toString(), 'PNG');
    const restored = await api(h2(), `/api/checkpoints/${freeze.body.checkpoint.id}/restore`, { method: 'POST', json: {} });
    assert.equal(restored.status, 200, restored.text);
    await eventually(() => assert.ok(events.messages.some((m) => m.event === 'watch' && (m.data as any).desktop.state === 'running' && (m.data as any).type === 'restored'), 'running again'), 10_000);
    assert.ok(!events.text().includes(remote.vncPassword), 'never the control password in the audience\'s events');
  } finally {
    await events.close();
  }
  // Another desktop's view token opens nothing of this one.
  const otherView = deriveViewToken(h1().token, 'd-00000000');
  assert.equal((await api(h1(), `/api/desktops/${remote.id}/watch`, { bearer: otherView })).status, 403);
});

test('host 2\'s checkpoints on host 1\'s timeline: listed, and their picture, export, inspect, pin, clone, restore and delete, and the desktop\'s stop, removal and retention, asked of host 1 are done by host 2', { timeout: 240_000 }, async () => {
  const detail = await api(h1(), `/api/desktops/${remote.id}`);
  assert.ok(detail.body.checkpoints.some((c: { id: string }) => c.id === snapshotId), 'the timeline lists h2\'s checkpoint');
  // The catalog lists it on h2 within a second or two: what host 1 goes by for a checkpoint it does not have.
  await eventually(async () => assert.ok((await api(h1(), '/api/fleet')).body.fleet.checkpoints.some((c: { id: string; host: string }) => c.id === snapshotId && c.host === 'h2'), 'h1 lists the checkpoint on h2'), 15_000);

  const thumbnail = await api(h1(), `/api/checkpoints/${snapshotId}/thumbnail`);
  assert.equal(thumbnail.status, 200, thumbnail.text.slice(0, 200));
  assert.equal(thumbnail.bytes.subarray(1, 4).toString(), 'PNG');
  const exported = await api(h1(), `/api/checkpoints/${snapshotId}/export`);
  assert.equal(exported.status, 200, exported.text.slice(0, 200));
  assert.match(exported.headers.get('content-disposition') ?? '', new RegExp(`${snapshotId}\\.tar\\.zst`));
  assert.equal(exported.bytes.readUInt32LE(0), 0xfd2fb528, 'a zstd archive');
  const inspected = await api(h1(), `/api/checkpoints/${snapshotId}/inspect`);
  assert.equal(inspected.status, 200, inspected.text.slice(0, 300));
  assert.ok(inspected.body.processes.length > 0, 'the processes of h2\'s images');
  const read = await api(h1(), `/api/checkpoints/${snapshotId}`);
  assert.equal(read.status, 200, read.text);
  const pinned = await api(h1(), `/api/checkpoints/${snapshotId}/pin`, { method: 'PUT', json: { pinned: true } });
  assert.equal(pinned.status, 200, pinned.text);
  assert.equal((await api(h2(), `/api/checkpoints/${snapshotId}`)).body.checkpoint.pinned, true, 'pinned on h2');

  const cloned = await api(h1(), `/api/checkpoints/${snapshotId}/clone`, { method: 'POST', json: {} });
  assert.equal(cloned.status, 201, cloned.text);
  const clone = cloned.body.desktops[0].id as string;
  assert.equal((await api(h2(), `/api/desktops/${clone}`)).body.desktop.state, 'running', 'the clone runs on h2');
  const cloneDetail = await api(h1(), `/api/desktops/${clone}`);
  assert.equal(cloneDetail.body?.host, 'h2', 'its page on h1 reads it from h2 at once');
  // Stopped and removed through h1, done on h2 (and a clone's home is an overlay mount: a test host stopped with it
  // mounted cannot delete its folder).
  assert.equal((await api(h1(), `/api/desktops/${clone}/stop`, { method: 'POST', json: {} })).status, 200, 'stopped through h1');
  const removed = await api(h1(), `/api/desktops/${clone}`, { method: 'DELETE' });
  assert.equal(removed.status, 200, removed.text);
  assert.equal((await api(h2(), `/api/desktops/${clone}`)).status, 404, 'removed on h2');

  const restored = await api(h1(), `/api/checkpoints/${snapshotId}/restore`, { method: 'POST', json: { stopRunning: true } });
  assert.equal(restored.status, 200, restored.text);
  assert.equal(restored.body.checkpoint.id, snapshotId);
  const after = await api(h2(), `/api/desktops/${remote.id}`);
  assert.equal(after.body.desktop.state, 'running');
  assert.ok((await api(h2(), `/api/checkpoints/${snapshotId}`)).body.checkpoint.restores.some((r: { ok: boolean }) => r.ok), 'restored on h2 from that checkpoint');
  // A checkpoint no host has: still this host's 404.
  assert.equal((await api(h1(), '/api/checkpoints/c-00000000/thumbnail')).status, 404);

  // Delete an unpinned one, and the retention policy, through host 1: done on host 2.
  const others = (await api(h2(), `/api/desktops/${remote.id}`)).body.checkpoints.filter((c: { id: string; pinned?: boolean }) => c.id !== snapshotId && !c.pinned);
  assert.ok(others.length > 0, 'an unpinned checkpoint to delete');
  const deleted = await api(h1(), `/api/checkpoints/${others[0].id}`, { method: 'DELETE' });
  assert.equal(deleted.status, 200, deleted.text);
  assert.ok(deleted.body.bytesFreed > 0, 'the space freed on h2');
  assert.equal((await api(h2(), `/api/checkpoints/${others[0].id}`)).status, 404, 'gone from h2');
  const kept = await api(h1(), `/api/desktops/${remote.id}/retention`, { method: 'PUT', json: { keepLast: 5 } });
  assert.equal(kept.status, 200, kept.text);
  assert.deepEqual((await api(h2(), `/api/desktops/${remote.id}`)).body.desktop.retention, { keepLast: 5 }, 'the policy is h2\'s desktop\'s');
});

test('the audience\'s keys through host 1\'s relay reach nothing on host 2 (view-only password), the control session\'s do', { timeout: 180_000 }, async () => {
  // tee writes each line the xterm gets to a file in the desktop's home, read here from host 2's folder (as
  // test/viewOnly.test.ts does on one host).
  const started = await api(h2(), '/api/desktops', { method: 'POST', json: { host: 'h2', geometry: '640x480', commands: [['xterm', '-geometry', '80x24+10+10', '-e', 'tee', '/home/desktop/typed.txt']] } });
  assert.equal(started.status, 201, started.text);
  const id: string = started.body.desktop.id;
  const file = path.join(roomOf(new Paths(h2().stateDir), id).home, 'typed.txt');
  const typed = () => readFile(file, 'utf8').catch(() => '');
  await eventually(async () => assert.equal((await api(h1(), `/api/desktops/${id}`)).body?.host, 'h2', 'h1 reads it from h2'), 15_000);
  const view = deriveViewToken(h1().token, id);
  const watch = await api(h1(), `/api/desktops/${id}/watch`, { bearer: view });
  assert.equal(watch.status, 200, watch.text);

  // The control session through host 1 (its token, the control password): typing reaches the xterm once it is up.
  const control = await rfbThrough(h1(), id, h1().token, { password: started.body.desktop.vncPassword, autoRequest: false });
  try {
    await eventually(async () => {
      clickAt(control, 120, 120);
      typeLine(control, 'ready');
      await control.capture(5_000);
      assert.match(await typed(), /ready\n/);
    }, 30_000);
    const before = await typed();
    // The audience's session through host 1 (its view token, the view-only password it was given), then the control's:
    // Xvnc reads a session's messages in order, and the X server hands the xterm its events in order, so a view key
    // that got through would be in the file before the control's line.
    const audience = await rfbThrough(h1(), id, view, { password: watch.body.desktop.vncViewPassword, autoRequest: false });
    try {
      clickAt(audience, 120, 120);
      typeLine(audience, 'audience');
      await audience.capture(10_000);
      clickAt(control, 120, 120);
      typeLine(control, 'control');
      await eventually(async () => assert.match(await typed(), /control\n/), 10_000);
      assert.equal(await typed(), `${before}control\n`, 'only the control session\'s line');
      assert.equal(audience.closed, false, 'the audience keeps watching');
    } finally {
      audience.close();
    }
  } finally {
    await control.closeGracefully();
  }
  assert.equal((await api(h1(), `/api/desktops/${id}/stop`, { method: 'POST', json: {} })).status, 200);
});

test('host 2 stopped: host 1\'s page of its desktop is told the relay is stale; host 2 back: relinked by itself, its events flow again', { timeout: 180_000 }, async () => {
  const page = stream(h1(), `/api/events?desktop=${remote.id}`);
  const links = () => page.messages.filter((m) => m.event === 'remote').map((m) => m.data as { host?: string; live: boolean });
  try {
    await eventually(() => assert.deepEqual(links().at(-1), { host: 'h2', live: true }, 'linked to h2'), 10_000);
    const stateDir = h2().stateDir;
    await h2().stop('SIGTERM', { keepState: true });
    await eventually(() => assert.deepEqual(links().at(-1), { host: 'h2', live: false }, 'stale once h2 is gone'), 10_000);
    // The same host again (its address, state folder and desktop records; the desktops died with it).
    await testFleet.start(2, { stateDir });
    const listeningAt = performance.now();
    await eventually(() => assert.deepEqual(links().at(-1), { host: 'h2', live: true }, 'live again'), 30_000);
    // h2 lists the desktop in etcd again, h1 reads it (once a second), the relay's next try (every 0.5-5 s) connects.
    console.log(`relinked ${Math.round(performance.now() - listeningAt)} ms after h2 listened again`);
    // Its events flow again: the desktop (stopped with its host) restored from its pinned snapshot on h2.
    const restored = await api(h2(), `/api/checkpoints/${snapshotId}/restore`, { method: 'POST', json: { stopRunning: true } });
    assert.equal(restored.status, 200, restored.text);
    await eventually(() => assert.ok(page.messages.some((m) => m.event === 'desktop' && (m.data as any).type === 'restored' && (m.data as any).at > new Date(Date.now() - 60_000).toISOString()), 'the restore on the restarted h2 is relayed'), 10_000);
  } finally {
    await page.close();
  }
});
