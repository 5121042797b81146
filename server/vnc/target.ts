// Where a viewer connects to a desktop's Xvnc: a loopback port of the host, or one inside the desktop's own network
// namespace (a self-contained desktop, server/desktops/rooms.ts); and an RFB client connected there.
import net from 'node:net';
import { connectInNamespace } from '../sandbox/netnsSocket';
import { RfbClient, tcpTransport, type RfbOptions } from './rfbClient';

export interface VncTarget {
  port: number;
  /** Inside this network namespace (/run/netns/NAME); absent: the host's loopback. */
  netnsPath?: string;
}

/**
 * A desktop another host of the fleet runs (server/fleet/): the bridge relays the viewer's WebSocket to that host's
 * own VNC path (bridge/relay.ts) with the bearer, rather than connecting to an Xvnc here.
 */
export interface RemoteTarget {
  remote: { host: string; url: string; path: string; bearer?: string };
}

export const isRemote = (target: VncTarget | RemoteTarget): target is RemoteTarget => 'remote' in target;

/** A TCP connection to the target (made inside its namespace when it has one), not yet spoken on. */
export async function connectTarget(target: VncTarget, timeoutMs: number): Promise<net.Socket> {
  if (target.netnsPath) return connectInNamespace(target.netnsPath, target.port, { timeoutMs });
  const socket = net.connect({ port: target.port, host: '127.0.0.1' });
  const timer = setTimeout(() => socket.destroy(new Error(`connecting to 127.0.0.1:${target.port} timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  } finally {
    clearTimeout(timer);
  }
}

/** An RFB client connected to the target, handshake done up to ServerInit. */
export async function connectRfb(target: VncTarget, { timeoutMs = 10_000, ...options }: RfbOptions & { timeoutMs?: number } = {}): Promise<RfbClient> {
  if (!target.netnsPath) return RfbClient.connect(target.port, { timeoutMs, ...options });
  const socket = await connectTarget(target, timeoutMs);
  // No Nagle: see RfbClient.connect.
  socket.setNoDelay(true);
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`RFB handshake with port ${target.port} in ${target.netnsPath} timed out`)));
  const client = await RfbClient.over(tcpTransport(socket), options);
  client.socket = socket;
  socket.setTimeout(0);
  return client;
}
