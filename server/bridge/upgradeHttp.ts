// The HTTP side of an upgrade the bridge refuses: a plain status line on the raw socket, and the Origin check.
import 'server-only';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** Answers an upgrade request with an HTTP error and closes the socket (no WebSocket is ever opened). */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  const response =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    '\r\n' +
    body;
  // destroy() right after write() could drop the response; wait until it is out (or give up after a while).
  const timer = setTimeout(() => socket.destroy(), 2_000);
  timer.unref();
  socket.once('finish', () => {
    clearTimeout(timer);
    socket.destroy();
  });
  socket.end(response);
}

/**
 * Browsers always send Origin on WebSocket requests and do not apply the same-origin policy to them: without this
 * check any web page the user opens could drive their desktops. Clients that send no Origin (tools, tests) pass.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** noVNC offers the subprotocol 'binary' (and nothing else we could serve). */
export function pickProtocol(protocols: Set<string>): string | false {
  return protocols.has('binary') ? 'binary' : false;
}
