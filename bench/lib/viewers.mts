// The resume bench's viewers: RFB clients through the real bridge (as noVNC connects), asking for the next update
// after each one, and the time from a restore request to each one's first frame on its same connection.
import { setTimeout as delay } from 'node:timers/promises';
import { Rfb, wsTransport } from './rfb.mts';

/** RFB KeyEvent (keysym: ASCII is itself; Return 0xff0d). */
function key(down: boolean, keysym: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(4, 0);
  b.writeUInt8(down ? 1 : 0, 1);
  b.writeUInt32BE(keysym, 4);
  return b;
}
function pointer(mask: number, x: number, y: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt8(5, 0);
  b.writeUInt8(mask, 1);
  b.writeUInt16BE(x, 2);
  b.writeUInt16BE(y, 4);
  return b;
}

export class Viewer {
  /** performance.now() of the first update after arm(). */
  first: number | undefined;
  private armedAt = Infinity;
  closed = false;

  private constructor(readonly rfb: Rfb) {
    rfb.onUpdate = (at) => {
      if (this.first === undefined && at >= this.armedAt) this.first = at;
      rfb.request(true);
    };
    rfb.client.on('closed', () => (this.closed = true));
  }

  /** Through the bridge of the server at url, with the desktop's VNC password, like the page's noVNC. */
  static async open(url: string, desktopId: string, password: string): Promise<Viewer> {
    const t = await wsTransport(`${url.replace(/^http/, 'ws')}/api/desktops/${desktopId}/vnc`);
    const viewer = new Viewer(await Rfb.open(t, password));
    viewer.rfb.request(false);
    return viewer;
  }

  arm(at: number): void {
    this.first = undefined;
    this.armedAt = at;
  }

  /** Clicks at (x, y) and types text (\n is Return): the desktop's xterm gets a shell command. */
  async type(x: number, y: number, text: string): Promise<void> {
    this.rfb.write(pointer(0, x, y));
    this.rfb.write(pointer(1, x, y));
    this.rfb.write(pointer(0, x, y));
    await delay(300);
    for (const c of text) {
      const sym = c === '\n' ? 0xff0d : c.charCodeAt(0);
      this.rfb.write(key(true, sym));
      this.rfb.write(key(false, sym));
      await delay(5);
    }
  }

  /** Updates seen over ms: a picture that moves gets many. */
  async updatesOver(ms: number): Promise<number> {
    const before = this.rfb.updates;
    await delay(ms);
    return this.rfb.updates - before;
  }

  close(): void {
    this.rfb.close();
  }
}
