// Opens the bridge's TCP connection to a desktop's Xvnc, always on loopback: the browser never names a host or port.
import 'server-only';
import net from 'node:net';
import { socketInNamespace, type SocketOptions } from '../sandbox/netnsSocket';
import type { VncTarget } from '../vnc/target';
import { BridgeError } from './errors';
import { vncReadPool } from './readPool';

/** Takes one chunk of Xvnc's bytes; `release` must be called once the chunk is no longer needed (it is reused). */
export type VncSink = (chunk: Buffer, release: () => void) => void;

export interface VncSocket {
  socket: net.Socket;
  /** Where Xvnc's bytes go from now on; whatever arrived before (its RFB greeting) is delivered at once. */
  onData(sink: VncSink): void;
}

export function connectVnc(target: VncTarget, timeoutMs: number, desktopId?: string): Promise<VncSocket> {
  const { port, netnsPath } = target;
  const where = `127.0.0.1:${port}${netnsPath ? ` in ${netnsPath}` : ''}`;
  return new Promise((resolve, reject) => {
    let sink: VncSink | undefined;
    const early: Buffer[] = [];
    const socketOptions: SocketOptions = {
      // Reads straight into pooled buffers (see readPool.ts); the stream's own 'data' path is not used.
      onread: {
        buffer: () => vncReadPool.take(),
        callback: (bytes: number, buffer: Uint8Array) => {
          const b = buffer as Buffer;
          if (sink) {
            sink(b.subarray(0, bytes), () => vncReadPool.give(b));
          } else {
            early.push(Buffer.from(b.subarray(0, bytes)));
            vncReadPool.give(b);
          }
          return true; // false would pause the socket: backpressure is the connection's, through pause()
        },
      },
    };
    let socket: net.Socket;
    try {
      // A self-contained desktop's Xvnc listens only inside its own network namespace: the socket is made there
      // (native/netns.c) and connected by libuv like any other, so the rest of the bridge cannot tell the two apart.
      socket = netnsPath ? socketInNamespace(netnsPath, socketOptions) : new net.Socket(socketOptions as net.SocketConstructorOpts);
    } catch (cause) {
      reject(new BridgeError('vnc_unreachable', `cannot connect to the VNC server of desktop ${desktopId ?? '?'} on ${where}`, { desktopId, port }, { cause }));
      return;
    }
    socket.connect({ host: '127.0.0.1', port });
    const vnc: VncSocket = {
      socket,
      onData(next) {
        sink = next;
        for (const chunk of early.splice(0)) next(chunk, () => {});
      },
    };
    // Flowing, although no 'data' is ever emitted: Xvnc's FIN must still end (and close) the socket.
    socket.resume();
    const fail = (cause: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new BridgeError('vnc_unreachable', `cannot connect to the VNC server of desktop ${desktopId ?? '?'} on ${where}`, { desktopId, port }, { cause }));
    };
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      // Until the connection takes the socket over (same tick, but keep an error from ever going unhandled).
      socket.on('error', () => {});
      // Interactive input (pointer, keys) should not wait for Nagle.
      socket.setNoDelay(true);
      // No keepalive: nothing at all may be sent into a frozen desktop's connection (see gate.ts); Node's default is
      // off, said here so nobody turns it on.
      socket.setKeepAlive(false);
      resolve(vnc);
    });
  });
}
