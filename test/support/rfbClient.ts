// A small RFB 3.8 client for tests: handshake with security None, Raw encoding, counts framebuffer updates.
import { EventEmitter, once } from 'node:events';
import net from 'node:net';

export class RfbClient extends EventEmitter<{ update: [number]; closed: [] }> {
  width = 0;
  height = 0;
  name = '';
  updates = 0;
  bytesReceived = 0;
  closed = false;
  private buffer = Buffer.alloc(0);
  private waiting: { bytes: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;

  private constructor(readonly socket: net.Socket) {
    super();
    socket.on('data', (chunk) => {
      this.bytesReceived += chunk.length;
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.pump();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.reject(new Error('connection closed'));
      this.emit('closed');
    });
    socket.on('error', () => {});
  }

  /** Connects to 127.0.0.1:port and completes the handshake up to ServerInit. */
  static async connect(port: number, { autoRequest = true } = {}): Promise<RfbClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const client = new RfbClient(socket);
    await client.handshake();
    if (autoRequest) client.loop().catch(() => {});
    return client;
  }

  private read(bytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'));
      this.waiting = { bytes, resolve, reject };
      this.pump();
    });
  }

  private pump(): void {
    const w = this.waiting;
    if (w && this.buffer.length >= w.bytes) {
      this.waiting = undefined;
      const out = this.buffer.subarray(0, w.bytes);
      this.buffer = this.buffer.subarray(w.bytes);
      w.resolve(out);
    }
  }

  private async handshake(): Promise<void> {
    const version = (await this.read(12)).toString('latin1');
    if (!version.startsWith('RFB 003.')) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    this.socket.write('RFB 003.008\n');
    const count = (await this.read(1))[0];
    if (count === 0) throw new Error('server refused the connection');
    const types = [...(await this.read(count))];
    if (!types.includes(1)) throw new Error(`security type None not offered: ${types}`);
    this.socket.write(Buffer.from([1]));
    const result = (await this.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`security failed: ${result}`);
    this.socket.write(Buffer.from([1])); // ClientInit: shared
    const init = await this.read(24);
    this.width = init.readUInt16BE(0);
    this.height = init.readUInt16BE(2);
    this.name = (await this.read(init.readUInt32BE(20))).toString('utf8');
    // Ask for 32-bit true colour (the server's own format is 32 bpp already) and Raw only, to keep parsing simple.
    const encodings = Buffer.alloc(8);
    encodings.writeUInt8(2, 0); // SetEncodings
    encodings.writeUInt16BE(1, 2);
    encodings.writeInt32BE(0, 4); // Raw
    this.socket.write(encodings);
    this.bytesPerPixel = init.readUInt8(4) / 8;
  }

  private bytesPerPixel = 4;

  requestUpdate(incremental: boolean): void {
    const msg = Buffer.alloc(10);
    msg.writeUInt8(3, 0);
    msg.writeUInt8(incremental ? 1 : 0, 1);
    msg.writeUInt16BE(this.width, 6);
    msg.writeUInt16BE(this.height, 8);
    if (!this.closed) this.socket.write(msg);
  }

  /** Reads server messages forever, asking for the next incremental update after each one, like a viewer. */
  private async loop(): Promise<void> {
    this.requestUpdate(false);
    for (;;) {
      const type = (await this.read(1))[0];
      if (type === 0) {
        const rects = (await this.read(3)).readUInt16BE(1);
        for (let i = 0; i < rects; i++) {
          const header = await this.read(12);
          const [w, h, encoding] = [header.readUInt16BE(4), header.readUInt16BE(6), header.readInt32BE(8)];
          if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
          await this.read(w * h * this.bytesPerPixel);
        }
        this.updates++;
        this.emit('update', this.updates);
        this.requestUpdate(true);
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

  close(): void {
    this.socket.destroy();
  }
}
