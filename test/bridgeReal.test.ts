// The bridge in front of a real desktop (Xvnc, criu): an RFB session over the WebSocket survives a checkpoint and
// a restore, its input is held while the desktop is frozen, and the picture is back right after the restore.
import { desktopIdSegment } from '../lib/ids';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { createBridge, type Bridge } from '../server/bridge/bridge';
import type { DesktopEvent } from '../server/desktops/events';
import type { Engine } from '../server/engine';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';
import { RfbClient, wsTransport } from '../server/vnc/rfbClient';
import { within } from './support/within';

// Displays 40-59: other people's tests and servers on this machine use lower ones.
const displays = '40-59';
// A frozen desktop sends nothing; seeing that takes a window. The viewer asks for a full (non-incremental) update
// every requestEveryMs during it, which a live desktop answers at once, so 1 s of silence is conclusive.
const frozenSilenceWindowMs = 1_000;
const requestEveryMs = 100;
// After the restore the held requests are flushed and answered: the brief's bar, far above the 14-34 ms measured.
const backAfterRestoreMs = 2_000;
const updateDeadlineMs = 10_000;
// A hung test fails instead of hanging the run, and after() still stops the desktop.
const testTimeoutMs = 60_000;
// Every assert.ok here carries a message: without one, a failing assert.ok makes node re-parse the tsx-compiled
// source to quote the expression, which on this one-line output spins for minutes.

/** Every viewer a test opened: closed after each test, so a failed one does not disturb the next. */
const openViewers = new Set<WsViewer>();
/** The VNC password of the suite's desktop: its Xvnc asks every viewer for it. */
let vncPassword: string | undefined;

/** A viewer over the bridge's WebSocket, as noVNC would be: the WebSocket, and the one RFB client over it. */
class WsViewer {
  closedWith: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  private rfb: RfbClient | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
      });
    });
  }

  /** Opens the WebSocket (listening from the first byte) without waiting for the RFB handshake. */
  static async open(url: string): Promise<WsViewer> {
    const viewer = new WsViewer(new WebSocket(url, ['binary'], { perMessageDeflate: false }));
    viewer.transport = wsTransport(viewer.ws);
    openViewers.add(viewer);
    void viewer.closed.then(() => openViewers.delete(viewer));
    await within(once(viewer.ws, 'open'), updateDeadlineMs, 'the WebSocket opening');
    assert.equal(viewer.ws.protocol, 'binary');
    return viewer;
  }

  static async connect(url: string): Promise<WsViewer> {
    const viewer = await WsViewer.open(url);
    await within(viewer.handshake(), updateDeadlineMs, 'the RFB handshake');
    return viewer;
  }

  private transport!: ReturnType<typeof wsTransport>;

  async handshake(): Promise<void> {
    this.rfb = await RfbClient.over(this.transport, { password: vncPassword });
  }

  private get client(): RfbClient {
    assert.ok(this.rfb, 'the RFB handshake is done');
    return this.rfb;
  }

  get width(): number {
    return this.client.width;
  }

  get height(): number {
    return this.client.height;
  }

  /** Bytes received after ServerInit. */
  get sessionBytes(): number {
    return this.client.sessionBytes;
  }

  /** A server message the parser did not understand (e.g. a new RFB greeting in the middle of a session). */
  get parseError(): Error | undefined {
    return this.rfb?.parseError;
  }

  requestUpdate(incremental: boolean): void {
    this.client.requestUpdate(incremental);
  }

  /** The time the next bytes arrive (no deadline: the caller adds one where it starts counting). */
  nextBytes(): Promise<number> {
    return once(this.client, 'bytes').then(([t]) => t as number);
  }

  nextUpdate(): Promise<number> {
    return once(this.client, 'update').then(([, at]) => at as number);
  }

  /**
   * Stops asking for updates and waits until Xvnc has no request of ours left to answer: a full-screen update can
   * only answer the non-incremental request sent here, and Xvnc clears every pending request with each update.
   */
  async settle(): Promise<void> {
    const client = this.client;
    client.autoRequest = false;
    const full = new Promise<void>((resolve) => {
      const onUpdate = (_n: number, _at: number, isFull: boolean) => {
        if (!isFull) return;
        client.off('update', onUpdate);
        resolve();
      };
      client.on('update', onUpdate);
    });
    this.requestUpdate(false);
    await full;
  }

  /** Asks for updates again, one after another, like a viewer. */
  carryOn(): void {
    this.client.autoRequest = true;
    this.requestUpdate(true);
  }

  close(): void {
    this.ws.close();
  }
}

/** Keeps asking for full updates, as a viewer whose user keeps moving: these must be held while frozen. */
function keepRequesting(viewer: WsViewer): () => void {
  const timer = setInterval(() => viewer.requestUpdate(false), requestEveryMs);
  // A failed test must not leave the process running on this timer.
  timer.unref();
  viewer.requestUpdate(false);
  return () => clearInterval(timer);
}

describe('the bridge in front of a real desktop', { timeout: testTimeoutMs * 6 }, () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  let bridge: Bridge;
  let server: Server;
  let desktopId: string;
  let base: string;
  const url = () => `${base}/api/desktops/${desktopId}/vnc`;
  /** Each test starts from a running desktop, even after another test failed while it was frozen. */
  async function ensureRunning(): Promise<void> {
    const d = await engine.desktops.get(desktopId);
    if (d.state === 'checkpointed' && d.lastCheckpoint) await engine.desktops.restore(d.lastCheckpoint);
    assert.equal((await engine.desktops.get(desktopId)).state, 'running');
  }
  const logged: Error[] = [];

  before(async () => {
    ({ engine, dispose } = await withEngine(displays));
    const { desktops } = engine;
    // The same lookup as server/main.ts.
    bridge = createBridge({
      lookup: (id) => desktops.vncTarget(id),
      events: desktops,
    }, { log: (e) => logged.push(e) });
    server = createServer((_, res) => res.end());
    const vncPath = new RegExp(`^/api/desktops/(${desktopIdSegment})/vnc$`);
    server.on('upgrade', (req: IncomingMessage, socket, head) => {
      const match = vncPath.exec(req.url ?? '');
      if (match) bridge.handleUpgrade(req, socket, head, match[1]);
      else socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ id: desktopId, vncPassword } = await desktops.start({ geometry: '640x480', apps: ['xclock'] }));
  });

  afterEach(async () => {
    for (const viewer of openViewers) {
      viewer.close();
      await within(viewer.closed, updateDeadlineMs, 'a leftover viewer closing');
    }
  });

  after(async () => {
    bridge?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    // Stops every desktop this test started and removes the state directory.
    await dispose?.();
  });

  test('the session survives checkpoint and restore: input held while frozen, picture back at once, no reconnect', { timeout: testTimeoutMs }, async (t) => {
    const { desktops } = engine;
    await ensureRunning();
    const viewer = await WsViewer.connect(url());
    assert.deepEqual([viewer.width, viewer.height], [640, 480]);
    viewer.requestUpdate(false);
    await within(viewer.nextUpdate(), updateDeadlineMs, 'a first update');

    for (const round of [1, 2]) {
      // Leave Xvnc no request of its own to answer after the restore (the clock's next tick would): whatever comes
      // then answers the held requests, so it is the flush that is measured, and a missing flush fails.
      await within(viewer.settle(), updateDeadlineMs, 'Xvnc answering every pending request');
      const { checkpoint } = await desktops.checkpoint(desktopId);
      assert.equal(bridge.status(desktopId).gate, 'holding');
      const silentFrom = viewer.sessionBytes;
      const stop = keepRequesting(viewer);
      try {
        await eventually(() => assert.ok(bridge.status(desktopId).heldBytes > 0, 'requests are held'), updateDeadlineMs);
        await delay(frozenSilenceWindowMs);
      } finally {
        stop();
      }
      assert.equal(viewer.sessionBytes, silentFrom, 'nothing came from a frozen desktop');
      const held = bridge.status(desktopId);
      assert.equal(held.connections, 1);
      assert.ok(held.heldBytes >= 10 * (frozenSilenceWindowMs / requestEveryMs) * 0.5, `held ${held.heldBytes} bytes`);

      let restoredAt = 0;
      let resumedAt = 0;
      let gateAtRestored = '';
      const onRestored = (e: DesktopEvent) => {
        if (e.type !== 'restored') return;
        restoredAt = performance.now();
        gateAtRestored = bridge.status(desktopId).gate;
      };
      const onResumed = () => (resumedAt = performance.now());
      desktops.on('event', onRestored);
      desktops.on('resumed', onResumed);
      const firstBytes = viewer.nextBytes();
      const firstUpdate = viewer.nextUpdate();
      let restoreMs = 0;
      try {
        ({ restoreMs } = await desktops.restore(checkpoint.id));
      } finally {
        desktops.off('event', onRestored);
        desktops.off('resumed', onResumed);
      }
      // The gate opened on 'resumed' (criu done), before the records were written and 'restored' said so.
      assert.ok(resumedAt > 0 && resumedAt <= restoredAt, `resumed at ${resumedAt}, restored at ${restoredAt}`);
      assert.equal(gateAtRestored, 'open', "the gate was open by the time 'restored' came");
      const bytesAt = await within(firstBytes, backAfterRestoreMs, 'bytes after the restore');
      const updateAt = await within(firstUpdate, backAfterRestoreMs, 'a whole update after the restore');
      viewer.carryOn();
      t.diagnostic(
        `round ${round}: criu restore ${restoreMs.toFixed(0)} ms, held ${held.heldBytes} B; 'resumed' ${(restoredAt - resumedAt).toFixed(1)} ms before 'restored'; 'restored' event -> ` +
          `first bytes ${(bytesAt - restoredAt).toFixed(1)} ms, first whole update ${(updateAt - restoredAt).toFixed(1)} ms`,
      );
      assert.deepEqual(bridge.status(desktopId), { gate: 'open', connections: 1, heldBytes: 0 });
      assert.equal(viewer.closedWith, undefined, 'the WebSocket stayed open');
      assert.equal(viewer.parseError, undefined, 'the same RFB session went on (no new greeting)');
    }
    // And it keeps going: the clock ticks, incremental updates come.
    await within(viewer.nextUpdate(), updateDeadlineMs, 'updates after the restores');
    viewer.close();
    await viewer.closed;
  });

  test('a snapshot (leaveRunning) holds input only during the dump; the session goes on', { timeout: testTimeoutMs }, async () => {
    const { desktops } = engine;
    await ensureRunning();
    const viewer = await WsViewer.connect(url());
    viewer.requestUpdate(false);
    await within(viewer.nextUpdate(), updateDeadlineMs, 'a first update');
    const stop = keepRequesting(viewer);
    try {
      await desktops.checkpoint(desktopId, { leaveRunning: true });
      assert.deepEqual(bridge.status(desktopId), { gate: 'open', connections: 1, heldBytes: 0 });
      await within(viewer.nextUpdate(), backAfterRestoreMs, 'an update after the snapshot');
    } finally {
      stop();
    }
    assert.equal(viewer.closedWith, undefined);
    assert.equal(viewer.parseError, undefined);
    viewer.close();
    await viewer.closed;
  });

  test('a viewer that disconnects during the freeze does not stop the restore; the next viewer gets the desktop', { timeout: testTimeoutMs }, async () => {
    const { desktops } = engine;
    await ensureRunning();
    const viewer = await WsViewer.connect(url());
    viewer.requestUpdate(false);
    await within(viewer.nextUpdate(), updateDeadlineMs, 'a first update');
    const { checkpoint } = await desktops.checkpoint(desktopId);
    viewer.requestUpdate(false);
    await eventually(() => assert.ok(bridge.status(desktopId).heldBytes > 0, 'the request is held'));
    viewer.close();
    await within(viewer.closed, updateDeadlineMs, 'the viewer closing');
    await eventually(() => assert.equal(bridge.status(desktopId).connections, 0));

    const { desktop } = await desktops.restore(checkpoint.id);
    assert.equal(desktop.state, 'running');
    const next = await WsViewer.connect(url());
    next.requestUpdate(false);
    await within(next.nextUpdate(), updateDeadlineMs, 'an update for the next viewer');
    assert.equal(next.parseError, undefined);
    next.close();
    await next.closed;
  });

  test('a viewer that arrives during the freeze is connected to the desktop once it is restored', { timeout: testTimeoutMs }, async () => {
    const { desktops } = engine;
    await ensureRunning();
    const { checkpoint } = await desktops.checkpoint(desktopId);
    const viewer = await WsViewer.open(url());
    const handshake = viewer.handshake();
    handshake.catch(() => {});
    assert.equal(bridge.status(desktopId).gate, 'holding');
    assert.equal(bridge.status(desktopId).connections, 1);
    const restoredAt = performance.now();
    await desktops.restore(checkpoint.id);
    await within(handshake, backAfterRestoreMs, 'the RFB handshake after the restore');
    viewer.requestUpdate(false);
    const updateAt = await within(viewer.nextUpdate(), backAfterRestoreMs, 'an update after the restore');
    assert.ok(updateAt - restoredAt < backAfterRestoreMs + 1_000, `an update ${updateAt - restoredAt} ms after the restore started`);
    viewer.close();
    await viewer.closed;
  });

  test('stopping the desktop closes its viewer (4001 or 4004) and a new one is refused with 404', { timeout: testTimeoutMs }, async () => {
    const { desktops } = engine;
    await ensureRunning();
    const viewer = await WsViewer.connect(url());
    await desktops.stop(desktopId);
    // Xvnc dies before the 'stopped' event: whichever the viewer sees first, it is told not to carry on.
    const { code } = await within(viewer.closed, updateDeadlineMs, 'the viewer closing');
    assert.ok(code === 4001 || code === 4004, `closed with ${code}`);
    const refused = new WebSocket(url());
    refused.on('error', () => {});
    const [, res] = (await within(once(refused, 'unexpected-response'), updateDeadlineMs, 'a refusal')) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 404);
    res.resume();
  });
});
