// One viewer: its WebSocket piped to a TCP connection to the desktop's Xvnc, with backpressure and the freeze hold.
import 'server-only';
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { BridgeError } from './errors';
import { closeCodes, closeReasons, type BridgeOptions } from './options';
import type { VncSocket } from './vncSocket';

export interface ConnectionContext {
  desktopId: string;
  /** Connected already, or undefined when the desktop was frozen at upgrade time (see connectTcp). */
  tcp: VncSocket | undefined;
  /** Opens a new TCP connection to the desktop's Xvnc. */
  connect: () => Promise<VncSocket>;
  /** The desktop's gate: while it holds, nothing may be written to Xvnc. */
  isHolding: () => boolean;
  options: BridgeOptions;
  /** Called once, when both the WebSocket and the TCP connection are closed. */
  onFinished: () => void;
}

type TcpState = 'none' | 'connecting' | 'open' | 'closed';

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class Connection {
  private tcp: Socket | undefined;
  private tcpState: TcpState = 'none';
  /** Viewer->server bytes not yet written to Xvnc, in order. */
  private held: Buffer[] = [];
  private heldTotal = 0;
  /** The checkpoint whose freeze this connection's TCP session went through (see release). */
  private frozenIn: string | undefined;
  private wsClosed = false;
  /** The viewer left while its desktop was frozen: end the TCP connection once the gate opens. */
  private endWhenReleased = false;
  private endTimer: NodeJS.Timeout | undefined;
  private pongSeen = true;
  private tcpReadsPaused = false;
  private viewerReadsPaused = false;
  private finished = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
  ) {
    ws.on('message', (data, isBinary) => this.fromViewer(data, isBinary));
    ws.on('pong', () => {
      this.pongSeen = true;
    });
    ws.on('error', (cause) => this.report('viewer_error', `the viewer's WebSocket failed`, cause));
    ws.on('close', () => this.viewerClosed());
    if (ctx.tcp) this.attachTcp(ctx.tcp);
    else if (!ctx.isHolding()) void this.connectTcp();
  }

  /** Open to the viewer (the page counts it as connected). */
  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get heldBytes(): number {
    return this.heldTotal;
  }

  // ---- the gate's effects ----

  /**
   * The desktop's gate starts holding for the dump of checkpointId. From here on fromViewer writes nothing to Xvnc.
   * (What was written before is out of our hands: on loopback it is acknowledged within microseconds, unless Xvnc
   * had stopped reading and our writes were already waiting for 'drain'.)
   */
  freeze(checkpointId: string | undefined): void {
    if (this.tcpState === 'connecting' || this.tcpState === 'open') this.frozenIn = checkpointId;
  }

  /**
   * The gate opened: after a restore from restoredFrom (undefined when the tree simply went on running).
   * Flushes what was held, in order, in one write so Xvnc gets it at once.
   */
  release(restoredFrom?: string): void {
    const frozenIn = this.frozenIn;
    this.frozenIn = undefined;
    // Restored from another checkpoint than the one this session was frozen in: the restored Xvnc holds this TCP
    // connection as it was back then (other sequence numbers, another RFB state), so it cannot be continued.
    const mismatch = restoredFrom !== undefined && frozenIn !== undefined && frozenIn !== restoredFrom;
    if (this.endWhenReleased) {
      this.endWhenReleased = false;
      if (mismatch) this.tcp?.destroy();
      else this.endTcp();
      return;
    }
    if (this.wsClosed) return;
    if (mismatch) {
      this.close(closeCodes.vncLost, closeReasons.vncLost);
      return;
    }
    if (this.tcpState === 'none') void this.connectTcp();
    else this.flush();
  }

  /** Closes the viewer with code and reason, and drops the TCP connection at once. */
  close(code: number, reason: string): void {
    this.dropHeld();
    this.endWhenReleased = false;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
    this.tcp?.destroy();
  }

  beat(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    // While we paused reading the viewer (Xvnc not draining), its pong sits unread in the socket: no verdict then.
    if (!this.pongSeen && !this.viewerReadsPaused) {
      this.report('heartbeat', 'the viewer missed a pong: terminating it');
      this.ws.terminate();
      return;
    }
    this.pongSeen = false;
    this.ws.ping();
  }

  // ---- viewer -> Xvnc ----

  private fromViewer(data: RawData, isBinary: boolean): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!isBinary) {
      this.close(closeCodes.unsupportedData, closeReasons.unsupportedData);
      return;
    }
    const chunk = toBuffer(data);
    // THE FREEZE GATE: while the desktop is frozen not one byte goes to Xvnc. Sent into the frozen connection,
    // the kernel would retransmit it with exponential back-off and the picture would come back 24 s after the
    // restore of a 30 s freeze (95 s after a 120 s one) instead of 14-34 ms.
    if (this.ctx.isHolding() || this.tcpState !== 'open') {
      if (this.tcpState === 'closed') return;
      this.hold(chunk);
      return;
    }
    this.writeTcp(chunk);
  }

  private hold(chunk: Buffer): void {
    this.held.push(chunk);
    this.heldTotal += chunk.length;
    if (this.heldTotal > this.ctx.options.holdLimitBytes) {
      this.report('hold_limit', `the viewer sent more than ${this.ctx.options.holdLimitBytes} bytes while its desktop was frozen`);
      this.dropHeld();
      // Through the viewer's close: its TCP connection then ends once the desktop is back (see viewerClosed).
      this.ws.close(closeCodes.holdLimit, closeReasons.holdLimit);
    }
  }

  private dropHeld(): void {
    this.held = [];
    this.heldTotal = 0;
  }

  private flush(): void {
    if (this.tcpState !== 'open' || this.held.length === 0) return;
    const data = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held);
    this.dropHeld();
    this.writeTcp(data);
  }

  private writeTcp(chunk: Buffer): void {
    const tcp = this.tcp!;
    if (tcp.write(chunk) || this.viewerReadsPaused) return;
    // Xvnc is not keeping up: stop reading the viewer until the kernel takes our bytes again.
    this.viewerReadsPaused = true;
    this.ws.pause();
    tcp.once('drain', () => this.resumeViewer());
  }

  private resumeViewer(): void {
    if (!this.viewerReadsPaused) return;
    this.viewerReadsPaused = false;
    this.ws.resume();
  }

  // ---- Xvnc -> viewer ----

  private fromDesktop(chunk: Buffer, release: () => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return release();
    // No copy: ws frames the very buffer the kernel read into, and calls back once it is written out (or failed).
    this.ws.send(chunk, { binary: true }, () => {
      release();
      this.afterSend();
    });
    if (!this.tcpReadsPaused && this.ws.bufferedAmount > this.ctx.options.highWaterBytes) {
      // The viewer is not keeping up: stop reading Xvnc (its updates wait in the kernel, then in Xvnc).
      this.tcpReadsPaused = true;
      this.tcp?.pause();
    }
  }

  /** Each send's callback runs once it is out of our buffers: the last one always sees the buffer drained. */
  private afterSend(): void {
    if (this.tcpReadsPaused && this.ws.bufferedAmount <= this.ctx.options.lowWaterBytes) {
      this.tcpReadsPaused = false;
      this.tcp?.resume();
    }
  }

  // ---- the TCP connection's life ----

  /**
   * Connects when the gate opens. A viewer that arrives while the desktop is frozen gets its WebSocket at once but
   * its TCP connection only now: a connection made during the dump would sit un-accepted in Xvnc's listen queue, an
   * "in-flight" connection criu refuses to dump or (with --skip-in-flight) drops; after the dump nothing listens.
   */
  private async connectTcp(): Promise<void> {
    this.tcpState = 'connecting';
    let tcp: VncSocket;
    try {
      tcp = await this.ctx.connect();
    } catch (cause) {
      this.tcpState = 'closed';
      this.report('vnc_unreachable', 'could not connect to the desktop after it was restored', cause);
      if (this.ws.readyState === WebSocket.OPEN) this.ws.close(closeCodes.vncLost, closeReasons.vncLost);
      this.maybeFinished();
      return;
    }
    if (this.wsClosed) {
      tcp.socket.destroy();
      this.tcpState = 'closed';
      this.maybeFinished();
      return;
    }
    this.attachTcp(tcp);
    if (!this.ctx.isHolding()) this.flush();
  }

  private attachTcp(vnc: VncSocket): void {
    const tcp = vnc.socket;
    this.tcp = tcp;
    this.tcpState = 'open';
    vnc.onData((chunk, release) => this.fromDesktop(chunk, release));
    tcp.on('error', (cause) => this.report('vnc_error', 'the TCP connection to Xvnc failed', cause));
    tcp.on('close', () => this.desktopClosed());
    if (tcp.destroyed) this.desktopClosed();
  }

  private endTcp(): void {
    const tcp = this.tcp;
    if (!tcp || this.tcpState !== 'open') return;
    tcp.end();
    this.endTimer = setTimeout(() => tcp.destroy(), this.ctx.options.endTimeoutMs);
    this.endTimer.unref();
  }

  private desktopClosed(): void {
    if (this.tcpState === 'closed') return;
    this.tcpState = 'closed';
    clearTimeout(this.endTimer);
    this.dropHeld();
    // Paused, the viewer's answer to our close frame would go unread until ws's close timeout.
    this.resumeViewer();
    // A new TCP connection cannot be spliced under this WebSocket: the viewer's RFB session (handshake, pixel
    // format, encodings) lived in the Xvnc that is gone, and a new connection starts with a new handshake. So the
    // viewer is told, with a code the page recognizes and reconnects on.
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(closeCodes.vncLost, closeReasons.vncLost);
    this.maybeFinished();
  }

  private viewerClosed(): void {
    this.wsClosed = true;
    this.dropHeld();
    // Paused, Xvnc's FIN would go unread until the end timer: read (and drop) what is left so the close completes.
    if (this.tcpReadsPaused) {
      this.tcpReadsPaused = false;
      this.tcp?.resume();
    }
    if (this.tcpState === 'open') {
      // A FIN sent into a frozen desktop would be dropped by CRIU's rules and retransmitted with back-off like any
      // other byte; sent after the restore, Xvnc lets the dead client go at once.
      if (this.ctx.isHolding()) this.endWhenReleased = true;
      else this.endTcp();
    }
    this.maybeFinished();
  }

  private maybeFinished(): void {
    if (this.finished || !this.wsClosed || this.tcpState === 'open' || this.tcpState === 'connecting') return;
    this.finished = true;
    this.ctx.onFinished();
  }

  private report(code: ConstructorParameters<typeof BridgeError>[0], message: string, cause?: unknown): void {
    this.ctx.options.log(new BridgeError(code, `desktop ${this.ctx.desktopId}: ${message}`, { desktopId: this.ctx.desktopId }, { cause }));
  }
}
