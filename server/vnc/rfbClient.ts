// A small RFB 3.8 client (security None or VNC password, Raw encoding, 32-bit colour): counts updates, keeps
// pixels if asked.
// The tests watch desktops with it; checkpoints take their thumbnail with it.
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { ByteReader } from './byteReader';
import { vncAuthResponse } from './vncAuth';
import { keyEvent, pointerEvent, updateRequest } from './rfbMessages';

export class RfbClient extends EventEmitter<{ update: [number]; closed: [] }> {
  width = 0;
  height = 0;
  name = '';
  updates = 0;
  bytesReceived = 0;
  closed = false;
  private readonly reader = new ByteReader();

  /** The whole screen as the server sends it (32-bit little-endian: B, G, R, X), when connected with keepPixels. */
  pixels: Buffer | undefined;

  private constructor(
    readonly socket: net.Socket,
    private readonly keepPixels: boolean,
  ) {
    super();
    socket.on('data', (chunk) => {
      this.bytesReceived += chunk.length;
      this.reader.push(chunk);
    });
    socket.on('close', () => {
      this.closed = true;
      this.reader.close(new Error('connection closed'));
      this.emit('closed');
    });
    socket.on('error', () => {});
  }

  /** Connects to 127.0.0.1:port and completes the handshake up to ServerInit. */
  static async connect(
    port: number,
    { autoRequest = true, keepPixels = false, timeoutMs = 10_000, password }: { autoRequest?: boolean; keepPixels?: boolean; timeoutMs?: number; password?: string } = {},
  ): Promise<RfbClient> {
    // No Nagle: a small request written right after another would wait for its ACK (40 ms of delayed ACK).
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`RFB handshake with port ${port} timed out`)));
    await once(socket, 'connect');
    const client = new RfbClient(socket, keepPixels);
    await client.handshake(password);
    socket.setTimeout(0);
    client.loop(autoRequest).catch(() => {});
    return client;
  }

  private read(bytes: number): Promise<Buffer> {
    return this.reader.read(bytes);
  }

  private async handshake(password: string | undefined): Promise<void> {
    const version = (await this.read(12)).toString('latin1');
    if (!version.startsWith('RFB 003.')) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    this.socket.write('RFB 003.008\n');
    const count = (await this.read(1))[0];
    if (count === 0) throw new Error('server refused the connection');
    const types = [...(await this.read(count))];
    const wanted = password === undefined ? 1 : 2;
    if (!types.includes(wanted)) throw new Error(`security type ${wanted === 1 ? 'None' : 'VncAuth'} not offered: ${types}`);
    this.socket.write(Buffer.from([wanted]));
    if (wanted === 2) this.socket.write(vncAuthResponse(password!, await this.read(16)));
    const result = (await this.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`security failed: ${result}`);
    this.socket.write(Buffer.from([1])); // ClientInit: shared
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
    this.socket.write(Buffer.concat([format, encodings]));
    if (this.keepPixels) this.pixels = Buffer.alloc(this.width * this.height * 4);
  }

  requestUpdate(incremental: boolean): void {
    if (!this.closed) this.socket.write(updateRequest(incremental, this.width, this.height));
  }

  /** Presses and releases a key (an X keysym: printable ASCII's is its code, Return 0xff0d), as a viewer would. */
  key(keysym: number): void {
    if (!this.closed) this.socket.write(Buffer.concat([keyEvent(true, keysym), keyEvent(false, keysym)]));
  }

  /** A left click at x, y. */
  click(x: number, y: number): void {
    if (!this.closed) this.socket.write(Buffer.concat([pointerEvent(0, x, y), pointerEvent(1, x, y), pointerEvent(0, x, y)]));
  }

  /** Reads server messages; with autoRequest, asks for the next incremental update after each, like a viewer. */
  private async loop(autoRequest: boolean): Promise<void> {
    if (autoRequest) this.requestUpdate(false);
    for (;;) {
      const type = (await this.read(1))[0];
      if (type === 0) {
        const rects = (await this.read(3)).readUInt16BE(1);
        for (let i = 0; i < rects; i++) {
          const header = await this.read(12);
          const [x, y, w, h, encoding] = [0, 2, 4, 6].map((o) => header.readUInt16BE(o)).concat(header.readInt32BE(8));
          if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
          const raw = await this.read(w * h * 4);
          if (this.pixels) this.paint(x, y, w, h, raw);
        }
        this.updates++;
        this.emit('update', this.updates);
        if (autoRequest) this.requestUpdate(true);
      } else if (type === 1) {
        const n = (await this.read(5)).readUInt16BE(3);
        await this.read(n * 6);
      } else if (type === 2) {
        // Bell
      } else if (type === 3) {
        const length = (await this.read(7)).readUInt32BE(3);
        await this.read(length);
      } else {
        throw new Error(`unknown server message ${type}`);
      }
    }
  }

  /** Resolves at the next framebuffer update; rejects after timeoutMs. */
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

  /** Copies a Raw rectangle into the frame, a row at a time (no per-pixel work: thumbnails are taken mid-dump). */
  private paint(x: number, y: number, w: number, h: number, raw: Buffer): void {
    for (let row = 0; row < h; row++) raw.copy(this.pixels!, ((y + row) * this.width + x) * 4, row * w * 4, (row + 1) * w * 4);
  }

  /** The whole screen once, as B, G, R, X bytes (connect with keepPixels). */
  async capture(timeoutMs: number): Promise<Buffer> {
    const next = this.nextUpdate(timeoutMs);
    this.requestUpdate(false);
    await next;
    return this.pixels!;
  }

  close(): void {
    this.socket.destroy();
  }

  /**
   * Closes and waits until the server has closed its side too: a desktop about to be dumped must not hold a
   * half-open connection of ours.
   */
  async closeGracefully(timeoutMs = 1_000): Promise<void> {
    if (this.closed) return;
    const closed = once(this, 'closed');
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await closed;
    clearTimeout(timer);
  }
}
