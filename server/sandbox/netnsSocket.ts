// Connects from the server's network namespace to a loopback port inside a desktop's own (native/netns.c).
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';

interface NetnsAddon {
  socketIn(nsPath: string, family?: 4 | 6): number;
}

let addon: NetnsAddon | undefined;
function netnsAddon(): NetnsAddon {
  addon ??= createRequire(import.meta.url)('../../native/netns.node') as NetnsAddon;
  return addon;
}

export class NamespaceConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NamespaceConnectError';
  }
}

/** net.Socket's options, with onread (Node reads into the caller's buffers; @types/node lists it for connect only). */
export type SocketOptions = { family?: 4 | 6; onread?: net.OnReadOpts } & Omit<net.SocketConstructorOpts, 'fd'>;

/**
 * An unconnected TCP socket that lives in the network namespace nsPath names; `socket.connect()` connects it there.
 * options are net.Socket's (onread: the bridge reads into its own buffers).
 */
export function socketInNamespace(nsPath: string, { family = 4, ...options }: SocketOptions = {}): net.Socket {
  let fd: number;
  try {
    fd = netnsAddon().socketIn(nsPath, family);
  } catch (cause) {
    throw new NamespaceConnectError(`cannot open a socket in ${nsPath}: ${(cause as Error).message}`, { cause });
  }
  return new net.Socket({ ...options, fd, readable: true, writable: true } as net.SocketConstructorOpts);
}

/**
 * A TCP connection to 127.0.0.1:port (or [::1]) as seen inside the network namespace nsPath names
 * (/run/netns/NAME, /proc/PID/ns/net). The socket is made in the namespace by the addon and connected by libuv
 * like any other (`net.Socket#connect` reuses the handle it was given), so nothing blocks the event loop.
 */
export async function connectInNamespace(
  nsPath: string,
  port: number,
  { host = '127.0.0.1', timeoutMs = 10_000 }: { host?: '127.0.0.1' | '::1'; timeoutMs?: number } = {},
): Promise<net.Socket> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`not a TCP port: ${port}`);
  const socket = socketInNamespace(nsPath, { family: host === '::1' ? 6 : 4 });
  const timer = setTimeout(() => socket.destroy(new Error(`connecting to ${host}:${port} in ${nsPath} timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    socket.connect({ port, host });
    await once(socket, 'connect');
    return socket;
  } catch (cause) {
    socket.destroy();
    throw new NamespaceConnectError(`cannot connect to ${host}:${port} in ${nsPath}: ${(cause as Error).message}`, { cause });
  } finally {
    clearTimeout(timer);
  }
}
