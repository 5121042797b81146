// Loopback TCP probes: is a port free, and waiting until a desktop's VNC port serves connections.
import 'server-only';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * True once a server on port accepted a connection and spoke first (an RFB server sends its version). Merely
 * connecting is not enough: a connection still in the accept queue is one criu refuses to dump.
 */
function tryConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', () => done(true));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
    socket.setTimeout(2_000, () => done(false));
  });
}

/**
 * Resolves once port accepts a connection; rejects at the deadline or as soon as stillWorthWaiting() says no
 * (the process that should listen has died).
 */
export async function waitForPort(
  port: number,
  { timeoutMs, stillWorthWaiting, host = '127.0.0.1' }: { timeoutMs: number; stillWorthWaiting: () => Promise<boolean>; host?: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    if (await tryConnect(port, host)) return;
    if (!(await stillWorthWaiting())) throw new Error(`nothing will listen on ${host}:${port}: its process is gone`);
    if (Date.now() >= deadline) throw new Error(`${host}:${port} accepted no connection within ${timeoutMs} ms`);
    await delay(wait);
  }
}
