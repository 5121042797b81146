// The bridge's plumbing against a throwaway TCP server standing in for Xvnc and a real `ws` client: upgrade
// refusals, piping, backpressure, close propagation, heartbeat, and the freeze gate driven by hand-made events.
import { desktopIdSegment } from '../lib/ids';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { after, afterEach, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { createBridge, type Bridge } from '../server/bridge/bridge';
import type { BridgeOptions } from '../server/bridge/options';
import type { DesktopEvent, DesktopEventType } from '../server/desktops/events';
import type { CheckpointRecord, DesktopRecord } from '../server/desktops/records';
import type { DesktopState } from '../lib/states';
import { eventually } from './support/eventually';
import { within } from './support/within';

const desktopId = 'd-pipe';
// Bytes the bridge forwards on loopback arrive within a millisecond or two; "nothing arrived" can only be
// observed over a window, and this is it (used only where the test asserts an absence).
const quietWindowMs = 300;
// A writer that got no 'drain' for this long is stalled: the other side stopped reading. Again a window.
const stallWindowMs = 500;
const deadlineMs = 5_000;

/** One connection the bridge made to the fake Xvnc, with everything it received so far. */
interface Peer {
  socket: net.Socket;
  rx: ReturnType<typeof collector>;
}

/** Stands in for Xvnc: accepts connections on 127.0.0.1, reads them at once, hands them out in order. */
class FakeVnc {
  readonly peers: Peer[] = [];
  private readonly waiters: ((p: Peer) => void)[] = [];
  private taken = 0;
  private constructor(readonly server: net.Server, readonly port: number) {
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      const peer = { socket, rx: collector(socket) };
      this.peers.push(peer);
      this.waiters.shift()?.(peer);
    });
  }

  static async start(onConnection?: (socket: net.Socket) => void): Promise<FakeVnc> {
    const server = net.createServer();
    if (onConnection) server.on('connection', onConnection);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new FakeVnc(server, (server.address() as net.AddressInfo).port);
  }

  /** The next connection the bridge made (one already made counts). */
  next(): Promise<Peer> {
    const ready = this.peers[this.taken];
    if (ready) {
      this.taken++;
      return Promise.resolve(ready);
    }
    return within(
      new Promise<Peer>((resolve) => this.waiters.push((p) => {
        this.taken++;
        resolve(p);
      })),
      deadlineMs, 'the bridge connecting to Xvnc',
    );
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.socket.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** Collects what a socket receives, and resolves once it holds at least n bytes. */
function collector(socket: net.Socket) {
  let data = Buffer.alloc(0);
  const waiters: { n: number; resolve: () => void }[] = [];
  socket.on('data', (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
    for (const w of [...waiters]) if (data.length >= w.n) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    get data() {
      return data;
    },
    atLeast(n: number, what = `${n} bytes at Xvnc`) {
      if (data.length >= n) return Promise.resolve(data);
      return within(new Promise<void>((resolve) => waiters.push({ n, resolve })), deadlineMs, what).then(() => data);
    },
  };
}

function desktopEvent(type: DesktopEventType, state: DesktopState, extra: Partial<DesktopEvent> & { checkpointId?: string } = {}): DesktopEvent {
  const { checkpointId, ...rest } = extra;
  const desktop = { id: desktopId, display: 40, vncPort: 5940, state } as DesktopRecord;
  const checkpoint = checkpointId ? ({ id: checkpointId, desktop: desktopId } as CheckpointRecord) : undefined;
  return { type, desktop, checkpoint, ...rest };
}

interface Rig {
  vnc: FakeVnc;
  events: EventEmitter<{ event: [DesktopEvent]; resumed: [DesktopEvent] }>;
  bridge: Bridge;
  http: Server;
  url: string;
  logged: Error[];
  emit: (type: DesktopEventType, state: DesktopState, extra?: Partial<DesktopEvent> & { checkpointId?: string }) => void;
  close: () => Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.close();
});

async function rig({ options = {}, lookupPort, onConnection }: {
  options?: Partial<BridgeOptions>;
  lookupPort?: (id: string, vncPort: number) => Promise<number | undefined>;
  onConnection?: (socket: net.Socket) => void;
} = {}): Promise<Rig> {
  const vnc = await FakeVnc.start(onConnection);
  const events = new EventEmitter<{ event: [DesktopEvent]; resumed: [DesktopEvent] }>();
  const logged: Error[] = [];
  const bridge = createBridge({
    lookup: async (id) => {
      const port = lookupPort ? await lookupPort(id, vnc.port) : id === desktopId ? vnc.port : undefined;
      return port === undefined ? undefined : { port };
    },
    events,
  }, { log: (e) => logged.push(e), ...options });
  const http = createServer((_, res) => res.end());
  const vncPath = new RegExp(`^/api/desktops/(${desktopIdSegment})/vnc$`);
  http.on('upgrade', (req, socket, head) => {
    const match = vncPath.exec(req.url ?? '');
    if (match) bridge.handleUpgrade(req, socket, head, match[1]);
    else socket.destroy();
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as net.AddressInfo).port;
  const r: Rig = {
    vnc, events, bridge, http, logged,
    url: `ws://127.0.0.1:${port}/api/desktops/${desktopId}/vnc`,
    emit: (type, state, extra) => events.emit('event', desktopEvent(type, state, extra)),
    close: async () => {
      bridge.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      await vnc.close();
    },
  };
  rigs.push(r);
  return r;
}

async function open(url: string, protocols?: string[], headers?: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
  ws.on('error', () => {});
  // Listening from the start, as a real viewer does: Xvnc's first bytes may come with the upgrade's answer.
  received.set(ws, receive(ws));
  await within(once(ws, 'open'), deadlineMs, 'the WebSocket opening');
  return ws;
}

/** The HTTP status an upgrade was refused with. */
async function refusedWith(url: string, headers?: Record<string, string>): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url, { headers });
  ws.on('error', () => {});
  const [, res] = (await within(once(ws, 'unexpected-response'), deadlineMs, 'an HTTP refusal')) as [unknown, import('node:http').IncomingMessage];
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode ?? 0, body };
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('already closed'));
  return within(
    once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) })),
    deadlineMs, 'the WebSocket closing',
  );
}

/** Every message the client gets, concatenated. */
function receive(ws: WebSocket) {
  let data = Buffer.alloc(0);
  let binaryOnly = true;
  const listeners = new Set<() => void>();
  ws.on('message', (msg, isBinary) => {
    binaryOnly &&= isBinary;
    data = Buffer.concat([data, msg as Buffer]);
    for (const l of listeners) l();
  });
  return {
    get data() {
      return data;
    },
    get binaryOnly() {
      return binaryOnly;
    },
    atLeast(n: number, what = `${n} bytes at the viewer`): Promise<Buffer> {
      if (data.length >= n) return Promise.resolve(data);
      return within(new Promise<Buffer>((resolve) => {
        const l = () => {
          if (data.length >= n) {
            listeners.delete(l);
            resolve(data);
          }
        };
        listeners.add(l);
      }), deadlineMs, what);
    },
  };
}

const received = new Map<WebSocket, ReturnType<typeof receive>>();
const rxOf = (ws: WebSocket) => received.get(ws)!;

function pattern(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) % 251;
  return b;
}

function assertPattern(data: Buffer, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== i % 251) assert.fail(`${what}: byte ${i} is ${data[i]}, expected ${i % 251} (out of order or lost)`);
  }
}

describe('bridge upgrades', () => {
  test('an unknown desktop is refused with 404 on the raw socket, and Xvnc is never contacted', async () => {
    const r = await rig();
    const refusal = await refusedWith(r.url.replace(desktopId, 'd-nope'));
    assert.equal(refusal.status, 404);
    assert.match(refusal.body, /no running desktop d-nope/);
    assert.equal(r.vnc.peers.length, 0);
  });

  test('a desktop lookup that throws is a 500, reported with its cause', async () => {
    const r = await rig({ lookupPort: async () => { throw new Error('disk on fire'); } });
    assert.equal((await refusedWith(r.url)).status, 500);
    assert.equal(r.logged.length, 1);
    assert.equal((r.logged[0].cause as Error).message, 'disk on fire');
  });

  test('a desktop whose VNC port accepts no connection is a 502', async () => {
    // A free port below the ephemeral range, like a desktop's 59NN: a freed ephemeral port may come back as the
    // bridge's own source port, and then TCP connects the socket to itself (a "self-connect") instead of refusing.
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    let deadPort = 0;
    for (let port = Math.min(low, 32768) - 1000; port < Math.min(low, 32768) && !deadPort; port++) {
      const probe = net.createServer();
      const bound = await new Promise<boolean>((res) => probe.once('error', () => res(false)).listen(port, '127.0.0.1', () => res(true)));
      if (bound) {
        await new Promise((res) => probe.close(res));
        deadPort = port;
      }
    }
    assert.ok(deadPort, 'a free port below the ephemeral range');
    const r = await rig({ lookupPort: async () => deadPort });
    assert.equal((await refusedWith(r.url)).status, 502);
    assert.ok(r.logged.some((e) => (e as { code?: string }).code === 'vnc_unreachable'), 'the failed connection is reported');
  });

  test('a cross-origin page is refused with 403; the same origin is let in', async () => {
    const r = await rig();
    assert.equal((await refusedWith(r.url, { Origin: 'http://evil.example' })).status, 403);
    const host = new URL(r.url).host;
    const ws = await open(r.url, undefined, { Origin: `http://${host}` });
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
  });

  test("noVNC's subprotocol 'binary' is accepted", async () => {
    const r = await rig();
    const ws = await open(r.url, ['binary']);
    assert.equal(ws.protocol, 'binary');
    ws.close();
  });
});

describe('bridge piping', () => {
  test('bytes go both ways in binary frames, in order, including what Xvnc sent before the upgrade finished', async () => {
    const r = await rig({ onConnection: (s) => s.write('RFB 003.008\n') });
    const ws = await open(r.url);
    const toViewer = rxOf(ws);
    const { socket: xvnc, rx: atXvnc } = await r.vnc.next();
    assert.equal((await toViewer.atLeast(12)).toString(), 'RFB 003.008\n');
    ws.send(Buffer.from('RFB 003.008\n'));
    ws.send(Buffer.from([1]));
    assert.deepEqual(await atXvnc.atLeast(13), Buffer.concat([Buffer.from('RFB 003.008\n'), Buffer.from([1])]));
    xvnc.write(pattern(12, 100_000));
    const got = await toViewer.atLeast(12 + 100_000);
    assert.deepEqual(got.subarray(12), pattern(12, 100_000));
    assert.ok(toViewer.binaryOnly, 'every frame to the viewer is binary');
    ws.close();
  });

  test('a text frame from the viewer closes it with 1003', async () => {
    const r = await rig();
    const ws = await open(r.url);
    const done = closed(ws);
    ws.send('hello');
    assert.equal((await done).code, 1003);
  });

  test('the viewer closing ends the TCP connection to Xvnc', async () => {
    const r = await rig();
    const ws = await open(r.url);
    const { socket: xvnc } = await r.vnc.next();
    const ended = within(once(xvnc, 'end'), deadlineMs, 'Xvnc seeing the end');
    ws.close();
    await ended;
    await eventually(() => assert.equal(r.bridge.status(desktopId).connections, 0), deadlineMs);
  });

  test("Xvnc's connection dying closes the viewer with 4001 'vnc connection lost'", async () => {
    const r = await rig();
    const ws = await open(r.url);
    const { socket: xvnc } = await r.vnc.next();
    const done = closed(ws);
    xvnc.destroy();
    assert.deepEqual(await done, { code: 4001, reason: 'vnc connection lost' });
  });

  test('backpressure towards the viewer: Xvnc is not read while the viewer does not read', async () => {
    const total = 64 * 1024 * 1024;
    const r = await rig({ options: { highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024 } });
    const ws = await open(r.url);
    const toViewer = rxOf(ws);
    const { socket: xvnc } = await r.vnc.next();
    ws.pause(); // the viewer stops reading its socket
    let written = 0;
    const chunk = 64 * 1024;
    while (written < total) {
      const more = xvnc.write(pattern(written, chunk));
      written += chunk;
      if (!more) {
        const drained = await Promise.race([once(xvnc, 'drain').then(() => true), delay(stallWindowMs).then(() => false)]);
        if (!drained) break;
      }
    }
    // Without backpressure the bridge would have read everything into memory and Xvnc's writes would never stall.
    assert.ok(written < total, `Xvnc wrote all ${total} bytes while the viewer read nothing: the bridge kept reading`);
    ws.resume();
    const got = await toViewer.atLeast(written, 'everything written, once the viewer reads again');
    assert.equal(got.length, written);
    assertPattern(got, 'to the viewer');
    ws.close();
  });

  test('backpressure towards Xvnc: the viewer is not read while Xvnc does not read', async () => {
    const total = 64 * 1024 * 1024;
    const r = await rig();
    const ws = await open(r.url);
    const { socket: xvnc, rx: atXvnc } = await r.vnc.next();
    xvnc.pause(); // Xvnc stops reading its socket
    let sent = 0;
    const chunk = 256 * 1024;
    while (sent < total) {
      const ok = await Promise.race([
        new Promise<boolean>((resolve, reject) => ws.send(pattern(sent, chunk), (e) => (e ? reject(e) : resolve(true)))),
        delay(stallWindowMs).then(() => false),
      ]);
      sent += chunk;
      if (!ok) break;
    }
    assert.ok(sent < total, `the viewer sent all ${total} bytes while Xvnc read nothing: the bridge kept reading`);
    xvnc.resume();
    const got = await atXvnc.atLeast(sent, 'everything sent, once Xvnc reads again');
    assert.equal(got.length, sent);
    assertPattern(got, 'to Xvnc');
    ws.close();
  });
});

describe('bridge heartbeat', () => {
  test('a viewer that answers pings stays connected', async () => {
    const r = await rig({ options: { pingIntervalMs: 40 } });
    const ws = await open(r.url);
    let pings = 0;
    await within(new Promise<void>((resolve) => ws.on('ping', () => ++pings === 5 && resolve())), deadlineMs, '5 pings');
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(r.bridge.status(desktopId).connections, 1);
    ws.close();
  });

  test('a viewer that misses a pong is terminated, and its Xvnc connection ended', async () => {
    const r = await rig({ options: { pingIntervalMs: 40 } });
    const { port } = new URL(r.url);
    // A hand-made WebSocket client that never answers a ping.
    const raw = net.connect({ host: '127.0.0.1', port: Number(port) });
    raw.on('error', () => {});
    await once(raw, 'connect');
    raw.write(
      `GET /api/desktops/${desktopId}/vnc HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const [head] = (await within(once(raw, 'data'), deadlineMs, 'the 101')) as [Buffer];
    assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
    const { socket: xvnc } = await r.vnc.next();
    const xvncEnded = within(once(xvnc, 'end'), deadlineMs, 'Xvnc seeing the end');
    await within(once(raw, 'close'), deadlineMs, 'the silent viewer being cut off');
    await xvncEnded;
    assert.ok(r.logged.some((e) => /missed a pong/.test(e.message)), 'the missed pong is reported');
  });
});

describe('bridge freeze gate', () => {
  const frameRequest = Buffer.from([3, 0, 0, 0, 0, 0, 2, 128, 1, 224]);

  test('holds viewer bytes from checkpointing to restored, then flushes them in order at once; the viewer stays', async () => {
    const r = await rig();
    const ws = await open(r.url);
    const { socket: xvnc, rx: atXvnc } = await r.vnc.next();
    let wsClosed = false;
    ws.on('close', () => (wsClosed = true));
    ws.send(Buffer.from('before'));
    await atXvnc.atLeast(6);

    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
    for (let i = 0; i < 20; i++) ws.send(frameRequest);
    await eventually(() => assert.equal(r.bridge.status(desktopId).heldBytes, 200));
    r.emit('checkpointed', 'checkpointed', { checkpointId: 'c-1' });
    r.emit('restoring', 'restoring', { checkpointId: 'c-1' });
    ws.send(Buffer.from('last'));
    await eventually(() => assert.equal(r.bridge.status(desktopId).heldBytes, 204));
    await delay(quietWindowMs);
    assert.equal(atXvnc.data.length, 6, 'not one byte reached the frozen desktop');
    assert.deepEqual(r.bridge.status(desktopId), { gate: 'holding', connections: 1, heldBytes: 204 });

    r.emit('restored', 'running', { checkpointId: 'c-1' });
    const got = await atXvnc.atLeast(6 + 204, 'the held bytes after the restore');
    assert.deepEqual(got, Buffer.concat([Buffer.from('before'), ...Array(20).fill(frameRequest), Buffer.from('last')]));
    assert.deepEqual(r.bridge.status(desktopId), { gate: 'open', connections: 1, heldBytes: 0 });
    ws.send(Buffer.from('after'));
    await atXvnc.atLeast(6 + 204 + 5);
    assert.equal(wsClosed, false);
    ws.close();
  });

  test("a restore's early 'resumed' (criu done, records not yet written) flushes the held bytes; its 'restored' after changes nothing", async () => {
    const r = await rig();
    const ws = await open(r.url);
    const { rx: atXvnc } = await r.vnc.next();
    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
    ws.send(frameRequest);
    await eventually(() => assert.equal(r.bridge.status(desktopId).heldBytes, 10));
    r.emit('checkpointed', 'checkpointed', { checkpointId: 'c-1' });
    r.emit('restoring', 'restoring', { checkpointId: 'c-1' });
    // The desktop's record still says restoring: its records are being written.
    r.events.emit('resumed', desktopEvent('restored', 'restoring', { checkpointId: 'c-1', connections: 'kept' }));
    assert.deepEqual(await atXvnc.atLeast(10, 'the held bytes on resumed'), frameRequest);
    assert.deepEqual(r.bridge.status(desktopId), { gate: 'open', connections: 1, heldBytes: 0 });
    r.emit('restored', 'running', { checkpointId: 'c-1', connections: 'kept' });
    ws.send(Buffer.from('after'));
    assert.deepEqual(await atXvnc.atLeast(15), Buffer.concat([frameRequest, Buffer.from('after')]));
    assert.equal(r.logged.length, 0, `nothing refused: ${r.logged.map((e) => e.message).join('; ')}`);
    ws.close();
  });

  for (const [what, type, state, extra] of [
    ['a dump that failed with the tree resumed', 'failed', 'running', { operation: 'dump' as const }],
    ['a snapshot (leaveRunning)', 'checkpointed', 'running', { checkpointId: 'c-1' }],
  ] as const) {
    test(`releases after ${what}`, async () => {
      const r = await rig();
      const ws = await open(r.url);
      const { rx: atXvnc } = await r.vnc.next();
      r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
      ws.send(frameRequest);
      await eventually(() => assert.equal(r.bridge.status(desktopId).heldBytes, 10));
      r.emit(type, state, extra);
      assert.deepEqual(await atXvnc.atLeast(10), frameRequest);
      assert.equal(r.bridge.status(desktopId).gate, 'open');
      ws.close();
    });
  }

  test('a dump that failed and killed the tree closes the viewer with 4001', async () => {
    const r = await rig();
    const ws = await open(r.url);
    await r.vnc.next();
    const done = closed(ws);
    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
    r.emit('failed', 'failed', { operation: 'dump' });
    assert.deepEqual(await done, { code: 4001, reason: 'vnc connection lost' });
  });

  test('a restore from another checkpoint than the frozen one closes the viewer with 4001', async () => {
    const r = await rig();
    const ws = await open(r.url);
    await r.vnc.next();
    const done = closed(ws);
    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-2' });
    r.emit('checkpointed', 'checkpointed', { checkpointId: 'c-2' });
    r.emit('restored', 'running', { checkpointId: 'c-1' });
    assert.deepEqual(await done, { code: 4001, reason: 'vnc connection lost' });
  });

  test('a viewer that sends more than the hold limit while frozen is closed with 4002', async () => {
    const r = await rig({ options: { holdLimitBytes: 1000 } });
    const ws = await open(r.url);
    const { rx: atXvnc } = await r.vnc.next();
    const done = closed(ws);
    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
    ws.send(Buffer.alloc(600));
    ws.send(Buffer.alloc(600));
    const { code, reason } = await done;
    assert.equal(code, 4002);
    assert.match(reason, /frozen/);
    r.emit('restored', 'running', { checkpointId: 'c-1' });
    assert.equal(atXvnc.data.length, 0, 'the dropped bytes were not flushed');
  });

  test("'stopped' closes the desktop's viewers with 4004 'desktop stopped' and drops their TCP connections", async () => {
    const r = await rig();
    const ws = await open(r.url);
    const { socket: xvnc } = await r.vnc.next();
    const xvncClosed = within(once(xvnc, 'close'), deadlineMs, 'the TCP connection closing');
    const done = closed(ws);
    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
    r.emit('checkpointed', 'checkpointed', { checkpointId: 'c-1' });
    r.emit('stopped', 'stopped');
    assert.deepEqual(await done, { code: 4004, reason: 'desktop stopped' });
    await xvncClosed;
    assert.deepEqual(r.bridge.status(desktopId), { gate: 'open', connections: 0, heldBytes: 0 });
  });

  test('a viewer leaving while frozen: its TCP connection ends only after the restore', async () => {
    const r = await rig();
    const ws = await open(r.url);
    const { socket: xvnc, rx: atXvnc } = await r.vnc.next();
    let xvncEnded = false;
    const ended = once(xvnc, 'end').then(() => (xvncEnded = true));
    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
    ws.send(frameRequest);
    ws.close();
    await once(ws, 'close');
    await eventually(() => assert.equal(r.bridge.status(desktopId).connections, 0));
    await delay(quietWindowMs);
    assert.equal(xvncEnded, false, 'no FIN into the frozen desktop');
    r.emit('restored', 'running', { checkpointId: 'c-1' });
    await within(ended, deadlineMs, 'Xvnc seeing the end after the restore');
    assert.equal(atXvnc.data.length, 0, 'the held bytes of a viewer that left are dropped');
  });

  test('a viewer arriving while frozen gets its WebSocket at once and its TCP connection after the restore', async () => {
    const r = await rig({ onConnection: (s) => s.write('RFB 003.008\n') });
    r.emit('checkpointing', 'checkpointing', { checkpointId: 'c-1' });
    r.emit('checkpointed', 'checkpointed', { checkpointId: 'c-1' });
    const ws = await open(r.url);
    const toViewer = rxOf(ws);
    ws.send(Buffer.from('early'));
    await eventually(() => assert.equal(r.bridge.status(desktopId).heldBytes, 5));
    assert.equal(r.vnc.peers.length, 0, 'no connection to a frozen desktop');
    r.emit('restored', 'running', { checkpointId: 'c-1' });
    const { rx: atXvnc } = await r.vnc.next();
    assert.equal((await atXvnc.atLeast(5)).toString(), 'early');
    assert.equal((await toViewer.atLeast(12)).toString(), 'RFB 003.008\n');
    ws.close();
  });

  test("the bridge's close closes every viewer with 1001 and refuses new upgrades with 503", async () => {
    const r = await rig();
    const ws = await open(r.url);
    await r.vnc.next();
    const done = closed(ws);
    r.bridge.close();
    assert.equal((await done).code, 1001);
    assert.equal((await refusedWith(r.url)).status, 503);
  });

  test('an event handler never throws back into the engine', async () => {
    const r = await rig();
    // A malformed event (no desktop): the emitter must not see an exception.
    assert.doesNotThrow(() => r.events.emit('event', { type: 'stopped' } as DesktopEvent));
    assert.ok(r.logged.some((e) => (e as { code?: string }).code === 'event_failed'), 'the failure is reported');
  });
});

after(async () => {
  for (const r of rigs.splice(0)) await r.close();
});
