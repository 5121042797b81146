// A streaming RFB 3.8 client (security None, Raw, 32 bpp) over TCP or a WebSocket; it counts pixels, never keeps them.
import net from 'node:net';
import { once } from 'node:events';
import WebSocket from 'ws';
import { vncAuthResponse } from '../../server/vnc/vncAuth';
import { updateRequest } from '../../server/vnc/rfbMessages';

export interface Transport {
  write(b: Buffer): void;
  onData(cb: (b: Buffer) => void): void;
  close(): void;
}

export async function tcpTransport(port: number): Promise<Transport> {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.setNoDelay(true);
  await once(s, 'connect');
  s.on('error', () => {});
  return { write: (b) => void s.write(b), onData: (cb) => s.on('data', cb), close: () => s.destroy() };
}

export async function wsTransport(url: string): Promise<Transport> {
  const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  await once(ws, 'open');
  ws.on('error', () => {});
  // Node's ws leaves Nagle on; the browser's sockets have it off, and so do the other transports here.
  (ws as any)._socket?.setNoDelay?.(true);
  const t: Transport & { messages: number } = {
    messages: 0,
    write: (b) => ws.send(b),
    onData: (cb) => ws.on('message', (d: Buffer) => (t.messages++, cb(d))),
    close: () => ws.terminate(),
  };
  return t;
}

type State = 'version' | 'secCount' | 'secTypes' | 'challenge' | 'secResult' | 'init' | 'name' | 'msg' | 'fbuHead' | 'rectHead' | 'pixels' | 'mapHead' | 'mapBody' | 'cutHead' | 'cutBody';

export class Rfb {
  width = 0;
  height = 0;
  updates = 0;
  bytes = 0;
  /** performance.now() of the last complete update. */
  lastUpdateAt = 0;
  private chunks: Buffer[] = [];
  private queued = 0;
  private state: State = 'version';
  private need = 12;
  private rectsLeft = 0;
  private pixelsLeft = 0;
  private ready!: () => void;
  readonly handshake = new Promise<void>((r) => (this.ready = r));
  private waiters: ((at: number) => void)[] = [];
  /** While holding, writes wait here (the freeze gate, client side). */
  holding = false;
  private held: Buffer[] = [];
  onUpdate?: (at: number) => void;

  constructor(readonly t: Transport, private readonly password?: string) {
    t.onData((b) => this.feed(b));
  }

  /** password: the desktop's VNC password (each desktop's Xvnc asks for it); none for a server without one. */
  static async open(t: Transport, password?: string): Promise<Rfb> {
    const c = new Rfb(t, password);
    await c.handshake;
    return c;
  }

  write(b: Buffer): void {
    if (this.holding) this.held.push(b);
    else this.t.write(b);
  }
  hold(): void {
    this.holding = true;
  }
  flush(): void {
    this.holding = false;
    for (const b of this.held.splice(0)) this.t.write(b);
  }

  request(incremental: boolean, x = 0, y = 0, w = this.width, h = this.height): void {
    this.write(updateRequest(incremental, w, h, x, y));
  }

  nextUpdate(timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no update in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  close(): void {
    this.t.close();
  }

  private take(n: number): Buffer {
    let out: Buffer;
    if (this.chunks[0].length >= n) {
      out = this.chunks[0].subarray(0, n);
      if (this.chunks[0].length === n) this.chunks.shift();
      else this.chunks[0] = this.chunks[0].subarray(n);
    } else {
      out = Buffer.alloc(n);
      let o = 0;
      while (o < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - o);
        c.copy(out, o, 0, k);
        o += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.queued -= n;
    return out;
  }

  private skip(n: number): number {
    let done = 0;
    while (done < n && this.chunks.length) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - done);
      done += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.queued -= done;
    return done;
  }

  private updateDone(): void {
    this.updates++;
    const at = performance.now();
    this.lastUpdateAt = at;
    this.onUpdate?.(at);
    for (const w of this.waiters.splice(0)) w(at);
  }

  private feed(b: Buffer): void {
    this.bytes += b.length;
    this.chunks.push(b);
    this.queued += b.length;
    for (;;) {
      if (this.state === 'pixels') {
        this.pixelsLeft -= this.skip(this.pixelsLeft);
        if (this.pixelsLeft > 0) return;
        this.rectsLeft--;
        if (this.rectsLeft === 0) {
          this.state = 'msg';
          this.need = 1;
          this.updateDone();
        } else {
          this.state = 'rectHead';
          this.need = 12;
        }
        continue;
      }
      if (this.queued < this.need) return;
      const d = this.take(this.need);
      switch (this.state) {
        case 'version':
          this.t.write(Buffer.from('RFB 003.008\n'));
          this.state = 'secCount';
          this.need = 1;
          break;
        case 'secCount':
          if (d[0] === 0) throw new Error('server refused the connection');
          this.state = 'secTypes';
          this.need = d[0];
          break;
        case 'secTypes': {
          const wanted = this.password === undefined ? 1 : 2;
          if (![...d].includes(wanted)) throw new Error(`security type ${wanted} not offered`);
          this.t.write(Buffer.from([wanted]));
          this.state = wanted === 2 ? 'challenge' : 'secResult';
          this.need = wanted === 2 ? 16 : 4;
          break;
        }
        case 'challenge':
          this.t.write(vncAuthResponse(this.password!, d));
          this.state = 'secResult';
          this.need = 4;
          break;
        case 'secResult':
          if (d.readUInt32BE(0) !== 0) throw new Error('security failed');
          this.t.write(Buffer.from([1]));
          this.state = 'init';
          this.need = 24;
          break;
        case 'init': {
          this.width = d.readUInt16BE(0);
          this.height = d.readUInt16BE(2);
          this.state = 'name';
          this.need = d.readUInt32BE(20);
          if (this.need === 0) this.afterInit();
          break;
        }
        case 'name':
          this.afterInit();
          break;
        case 'msg':
          if (d[0] === 0) [this.state, this.need] = ['fbuHead', 3];
          else if (d[0] === 1) [this.state, this.need] = ['mapHead', 5];
          else if (d[0] === 2) this.need = 1; // bell
          else if (d[0] === 3) [this.state, this.need] = ['cutHead', 7];
          else throw new Error(`unknown server message ${d[0]}`);
          break;
        case 'fbuHead':
          this.rectsLeft = d.readUInt16BE(1);
          if (this.rectsLeft === 0) {
            [this.state, this.need] = ['msg', 1];
            this.updateDone();
          } else [this.state, this.need] = ['rectHead', 12];
          break;
        case 'rectHead': {
          const w = d.readUInt16BE(4), h = d.readUInt16BE(6), enc = d.readInt32BE(8);
          if (enc !== 0) throw new Error(`unexpected encoding ${enc}`);
          this.pixelsLeft = w * h * 4;
          this.state = 'pixels';
          break;
        }
        case 'mapHead':
          [this.state, this.need] = ['mapBody', d.readUInt16BE(3) * 6 || 0];
          if (this.need === 0) [this.state, this.need] = ['msg', 1];
          break;
        case 'cutHead':
          [this.state, this.need] = ['cutBody', d.readUInt32BE(3)];
          if (this.need === 0) [this.state, this.need] = ['msg', 1];
          break;
        case 'mapBody':
        case 'cutBody':
          [this.state, this.need] = ['msg', 1];
          break;
      }
    }
  }

  private afterInit(): void {
    const format = Buffer.alloc(20);
    format.writeUInt8(0, 0);
    Buffer.from([32, 24, 0, 1]).copy(format, 4);
    format.writeUInt16BE(255, 8);
    format.writeUInt16BE(255, 10);
    format.writeUInt16BE(255, 12);
    Buffer.from([16, 8, 0]).copy(format, 14);
    const enc = Buffer.alloc(8);
    enc.writeUInt8(2, 0);
    enc.writeUInt16BE(1, 2);
    enc.writeInt32BE(0, 4);
    this.t.write(Buffer.concat([format, enc]));
    this.state = 'msg';
    this.need = 1;
    this.ready();
  }
}
