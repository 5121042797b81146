// The benches' handle on the one RFB client (server/vnc/rfbClient.ts): transports opened by port or URL, updates
// asked for by the bench (no automatic requests), and the time each one completes.
import net from 'node:net';
import { once } from 'node:events';
import WebSocket from 'ws';
import { RfbClient, tcpTransport as overSocket, wsTransport as overWebSocket, type RfbTransport } from '../../server/vnc/rfbClient.ts';

export type Transport = RfbTransport & { messages?: number };

export async function tcpTransport(port: number): Promise<Transport> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  return overSocket(socket);
}

export async function wsTransport(url: string): Promise<Transport> {
  const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  const transport = overWebSocket(ws);
  await once(ws, 'open');
  // Node's ws leaves Nagle on; the browser's sockets have it off, and so do the other transports here.
  (ws as any)._socket?.setNoDelay?.(true);
  return transport;
}

export class Rfb {
  /** Called with performance.now() of each complete update. */
  onUpdate?: (at: number) => void;

  private constructor(
    readonly t: Transport,
    readonly client: RfbClient,
  ) {
    client.on('update', (_n, at) => this.onUpdate?.(at));
  }

  /** password: the desktop's VNC password (each desktop's Xvnc asks for it); none for a server without one. */
  static async open(t: Transport, password?: string): Promise<Rfb> {
    return new Rfb(t, await RfbClient.over(t, { password, autoRequest: false }));
  }

  get width(): number {
    return this.client.width;
  }
  get height(): number {
    return this.client.height;
  }
  get updates(): number {
    return this.client.updates;
  }
  get bytes(): number {
    return this.client.bytesReceived;
  }
  get lastUpdateAt(): number {
    return this.client.lastUpdateAt;
  }

  write(b: Buffer): void {
    this.client.write(b);
  }
  /** While holding, writes wait here (the freeze gate, client side). */
  hold(): void {
    this.client.hold();
  }
  flush(): void {
    this.client.flush();
  }

  request(incremental: boolean, x = 0, y = 0, w = this.width, h = this.height): void {
    this.client.requestUpdate(incremental, x, y, w, h);
  }

  /** performance.now() of the next complete update. */
  async nextUpdate(timeoutMs = 30_000): Promise<number> {
    await this.client.nextUpdate(timeoutMs);
    return this.client.lastUpdateAt;
  }

  close(): void {
    this.client.close();
  }
}
