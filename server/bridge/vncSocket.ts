// Opens the bridge's TCP connection to a desktop's Xvnc, always on loopback: the browser never names a host or port.
import 'server-only';
import net from 'node:net';
import { BridgeError } from './errors';

export function connectVnc(port: number, timeoutMs: number, desktopId?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const fail = (cause: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new BridgeError('vnc_unreachable', `cannot connect to the VNC server of desktop ${desktopId ?? '?'} on 127.0.0.1:${port}`, { desktopId, port }, { cause }));
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
      resolve(socket);
    });
  });
}
