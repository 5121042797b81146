// The one RFB 3.8 client (security None or VNC password, Raw encoding, 32-bit colour) over TCP or a WebSocket:
// checkpoints take their thumbnail with it, the tests watch desktops with it, the benches measure with it.
// Pixels stream through (ByteReader.stream): kept in a frame only when asked, otherwise just counted.
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import type WebSocket from 'ws';
import { ByteReader } from './byteReader';
import { keyEvent, pointerEvent, updateRequest } from './rfbMessages';
import { vncAuthResponse } from './vncAuth';

/** Bytes in and out, whatever carries them. */
export interface RfbTransport {
  write(bytes: Buffer): void;
  onData(listener: (chunk: Buffer) => void): void;
  onClose(listener: () => void): void;
  /** Half-closes (TCP FIN): the server then closes its side. */
  end(): void;
  close(): void;
}

export function tcpTransport(socket: net.Socket): RfbTransport {
  socket.on('error', () => {});
  return {
    write: (bytes) => void socket.write(bytes),
    onData: (listener) => socket.on('data', listener),
    onClose: (listener) => socket.on('close', listener),
    end: () => socket.end(),
    close: () => socket.destroy(),
  };
}

/** Over a WebSocket (the bridge's, websockify's), listening from its first byte: messages counts what arrived. */
export function wsTransport(ws: WebSocket): RfbTransport & { messages: number } {
  ws.on('error', () => {});
  // What arrives before the client listens (the server speaks first) waits here.
  let early: Buffer[] | undefined = [];
  let deliver: (chunk: Buffer) => void = (chunk) => early!.push(chunk);
  const transport = {
    messages: 0,
    write: (bytes: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(bytes);
    },
    onData: (listener: (chunk: Buffer) => void) => {
      deliver = listener;
      for (const chunk of early ?? []) listener(chunk);
      early = undefined;
    },
    onClose: (listener: () => void) => (ws.readyState === ws.CLOSED ? queueMicrotask(listener) : ws.on('close', listener)),
    end: () => ws.close(),
    close: () => ws.terminate(),
  };
  ws.on('message', (data: Buffer) => {
    transport.messages++;
    deliver(data);
  });
  return transport;
}

export interface RfbOptions {
  /** The desktop's VNC password (VncAuth); none: security type None. */
  password?: string;
  /** Ask for the next incremental update after each one, like a viewer (default true). */
  autoRequest?: boolean;
  /** Keep the whole screen in pixels (the thumbnail); otherwise pixels are only counted. */
  keepPixels?: boolean;
}

export class RfbClient extends EventEmitter<{ update: [number, number, boolean]; bytes: [number]; closed: [] }> {
  width = 0;
  height = 0;
  name = '';
  updates = 0;
  bytesReceived = 0;
  /** Bytes received after ServerInit. */
  sessionBytes = 0;
  /** performance.now() of the last complete update. */
  lastUpdateAt = 0;
  /** FramebufferUpdates whose header has been read (complete or not): refresh() tells the answer from earlier ones. */
  private begun = 0;
  /** Whether the last complete update painted the top-left pixel (what refresh() asks for). */
  private coveredOrigin = false;
  closed = false;
  /** The TCP socket, when connected by port (its local port names this client in criu's view of Xvnc). */
  socket: net.Socket | undefined;
  autoRequest: boolean;
  /** A server message the parser did not understand (e.g. a new RFB greeting in the middle of a session). */
  parseError: Error | undefined;
  /** The whole screen (32-bit little-endian: B, G, R, X), when connected with keepPixels. */
  pixels: Buffer | undefined;
  /** While holding, what this client writes waits (a freeze gate on the client's side, for the benches). */
  private held: Buffer[] | undefined;
  private inSession = false;
  private readonly reader = new ByteReader();

  private constructor(
    readonly transport: RfbTransport,
    private readonly options: RfbOptions,
  ) {
    super();
    this.autoRequest = options.autoRequest ?? true;
    transport.onData((chunk) => {
      this.bytesReceived += chunk.length;
      if (this.inSession) this.sessionBytes += chunk.length;
      this.reader.push(chunk);
      if (this.inSession) this.emit('bytes', performance.now());
    });
    transport.onClose(() => {
      this.closed = true;
      this.reader.close(new Error('connection closed'));
      this.emit('closed');
    });
  }

  /** Connects to 127.0.0.1:port and completes the handshake up to ServerInit. */
  static async connect(port: number, { timeoutMs = 10_000, ...options }: RfbOptions & { timeoutMs?: number } = {}): Promise<RfbClient> {
    // No Nagle: a small request written right after another would wait for its ACK (40 ms of delayed ACK).
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`RFB handshake with port ${port} timed out`)));
    await once(socket, 'connect');
    const client = await RfbClient.over(tcpTransport(socket), options);
    client.socket = socket;
    socket.setTimeout(0);
    return client;
  }

  /** The handshake up to ServerInit over a transport already open; then the session runs. */
  static async over(transport: RfbTransport, options: RfbOptions = {}): Promise<RfbClient> {
    const client = new RfbClient(transport, options);
    try {
      await client.handshake();
    } catch (error) {
      transport.close();
      throw error;
    }
    client.loop().catch((error: Error) => {
      if (!client.closed) client.parseError = error;
    });
    return client;
  }

  write(bytes: Buffer): void {
    if (this.held) this.held.push(bytes);
    else if (!this.closed) this.transport.write(bytes);
  }

  hold(): void {
    this.held ??= [];
  }

  flush(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const bytes of held) this.write(bytes);
  }

  private read(bytes: number): Promise<Buffer> {
    return this.reader.read(bytes);
  }

  private async handshake(): Promise<void> {
    const { password } = this.options;
    const version = (await this.read(12)).toString('latin1');
    if (!version.startsWith('RFB 003.')) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    this.transport.write(Buffer.from('RFB 003.008\n'));
    const count = (await this.read(1))[0];
    if (count === 0) throw new Error('server refused the connection');
    const types = [...(await this.read(count))];
    const wanted = password === undefined ? 1 : 2;
    if (!types.includes(wanted)) throw new Error(`security type ${wanted === 1 ? 'None' : 'VncAuth'} not offered: ${types}`);
    this.transport.write(Buffer.from([wanted]));
    if (wanted === 2) this.transport.write(vncAuthResponse(password!, await this.read(16)));
    const result = (await this.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`security failed: ${result}`);
    this.transport.write(Buffer.from([1])); // ClientInit: shared
    const init = await this.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.name = (await this.read(init.readUInt32BE(20))).toString('utf8');
    // 32-bit true colour, little-endian B,G,R,X, and Raw only: the simplest thing to parse.
    const format = Buffer.alloc(20);
    format.writeUInt8(0, 0); // SetPixelFormat
    Buffer.from([32, 24, 0, 1]).copy(format, 4); // bpp, depth, big-endian, true colour
    format.writeUInt16BE(255, 8);
    format.writeUInt16BE(255, 10);
    format.writeUInt16BE(255, 12);
    Buffer.from([16, 8, 0]).copy(format, 14); // red, green, blue shifts
    const encodings = Buffer.alloc(8);
    encodings.writeUInt8(2, 0); // SetEncodings
    encodings.writeUInt16BE(1, 2);
    encodings.writeInt32BE(0, 4); // Raw
    this.transport.write(Buffer.concat([format, encodings]));
    if (this.options.keepPixels) this.pixels = Buffer.alloc(this.width * this.height * 4);
    this.inSession = true;
  }

  /** A FramebufferUpdateRequest, of the whole screen unless a part is named. */
  requestUpdate(incremental: boolean, x = 0, y = 0, w = this.width, h = this.height): void {
    this.write(updateRequest(incremental, w, h, x, y));
  }

  /** Presses and releases a key (an X keysym: printable ASCII's is its code, Return 0xff0d), as a viewer would. */
  key(keysym: number): void {
    this.write(Buffer.concat([keyEvent(true, keysym), keyEvent(false, keysym)]));
  }

  /** A left click at x, y. */
  click(x: number, y: number): void {
    this.write(Buffer.concat([pointerEvent(0, x, y), pointerEvent(1, x, y), pointerEvent(0, x, y)]));
  }

  /** Reads server messages; with autoRequest, asks for the next incremental update after each, like a viewer. */
  private async loop(): Promise<void> {
    if (this.autoRequest) this.requestUpdate(false);
    for (;;) {
      const type = (await this.read(1))[0];
      if (type === 0) {
        const rects = (await this.read(3)).readUInt16BE(1);
        this.begun++;
        // Xvnc cuts a full-screen update into strips: full when they cover the screen.
        let area = 0;
        let origin = false;
        for (let i = 0; i < rects; i++) {
          const header = await this.read(12);
          const [x, y, w, h] = [0, 2, 4, 6].map((o) => header.readUInt16BE(o));
          const encoding = header.readInt32BE(8);
          if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
          area += w * h;
          origin ||= x === 0 && y === 0 && w > 0 && h > 0;
          await this.reader.stream(w * h * 4, this.pixels ? this.painter(x, y, w) : () => {});
        }
        this.updates++;
        this.lastUpdateAt = performance.now();
        this.coveredOrigin = origin;
        this.emit('update', this.updates, this.lastUpdateAt, area >= this.width * this.height);
        if (this.autoRequest) this.requestUpdate(true);
      } else if (type === 1) {
        const n = (await this.read(5)).readUInt16BE(3);
        await this.read(n * 6);
      } else if (type === 2) {
        // Bell
      } else if (type === 3) {
        const length = (await this.read(7)).readUInt32BE(3);
        await this.read(length);
      } else {
        throw new Error(`unknown server message type ${type}`);
      }
    }
  }

  /** Copies a Raw rectangle into the frame as its bytes arrive, a row piece at a time (thumbnails are taken mid-dump). */
  private painter(x: number, y: number, w: number): (chunk: Buffer) => void {
    const rowBytes = w * 4;
    let offset = 0;
    return (chunk) => {
      for (let at = 0; at < chunk.length; ) {
        const row = Math.floor(offset / rowBytes);
        const column = offset % rowBytes;
        const take = Math.min(rowBytes - column, chunk.length - at);
        chunk.copy(this.pixels!, ((y + row) * this.width + x) * 4 + column, at, at + take);
        at += take;
        offset += take;
      }
    };
  }

  /** Resolves at the next framebuffer update with its number; rejects after timeoutMs. */
  nextUpdate(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('update', onUpdate);
        reject(new Error(`no framebuffer update within ${timeoutMs} ms`));
      }, timeoutMs);
      const onUpdate = (n: number) => {
        clearTimeout(timer);
        resolve(n);
      };
      this.once('update', onUpdate);
    });
  }

  /** The whole screen once, as B, G, R, X bytes (connect with keepPixels). */
  async capture(timeoutMs: number): Promise<Buffer> {
    const next = this.nextUpdate(timeoutMs);
    this.requestUpdate(false);
    await next;
    return this.pixels!;
  }

  /**
   * Every change Xvnc has drawn up to now, in pixels (connect with keepPixels): resolves true at the update that
   * answers, false after timeoutMs (pixels then as they are). An incremental request alone goes unanswered while
   * nothing changes, so the top-left pixel is asked for too, non-incrementally: Xvnc (TigerVNC 1.12,
   * VNCSConnectionST::writeDataUpdate) answers that at once with every change it holds for this connection, or at
   * its next frame when changes are still queued. The answer is the first update begun after the request that
   * paints that pixel: one already on its way (answering an earlier request) is not it.
   */
  async refresh(timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    const before = this.begun;
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const onUpdate = () => {
        if (this.begun > before && this.coveredOrigin) done(true);
      };
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.off('update', onUpdate);
        this.off('closed', onClosed);
        resolve(ok);
      };
      const onClosed = () => done(false);
      this.on('update', onUpdate);
      this.once('closed', onClosed);
    });
    this.requestUpdate(true);
    this.requestUpdate(false, 0, 0, 1, 1);
    return answered;
  }

  close(): void {
    this.transport.close();
  }

  /**
   * Closes and waits until the server has closed its side too: a desktop about to be dumped must not hold a
   * half-open connection of ours.
   */
  async closeGracefully(timeoutMs = 1_000): Promise<void> {
    if (this.closed) return;
    const closed = once(this, 'closed');
    this.transport.end();
    const timer = setTimeout(() => this.transport.close(), timeoutMs);
    await closed;
    clearTimeout(timer);
  }
}
