// The VNC WebSocket of a desktop on another host, relayed by the host that serves the page: the browser talks only
// to its dashboard's origin (admission and the token were checked there, as for a local desktop); this host opens
// the same upgrade on the owner with the fleet key and then copies bytes both ways. The WebSocket frames pass
// through untouched (RFB end to end, the owner's bridge and freeze gate apply), so the relay adds one TCP hop and no
// parsing. The browser's cookie and Origin stay here: the owner sees a non-browser client with the fleet key.
import 'server-only';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { RemoteTarget } from '../vnc/target';
import { refuseUpgrade } from './upgradeHttp';

/** Request headers a WebSocket handshake needs, passed as the browser sent them. */
const passed = ['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions'];

export function relayUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, remote: RemoteTarget['remote'], timeoutMs = 5_000): void {
  const { host: peerId, url, path, bearer } = remote;
  const target = new URL(url);
  if (target.protocol !== 'http:') return refuseUpgrade(socket, 502, `cannot relay to ${peerId}: only http:// peers are relayed`);
  const upstream = net.connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port: Number(target.port || 80) });
  const timer = setTimeout(() => upstream.destroy(new Error(`no connection to ${peerId} within ${timeoutMs} ms`)), timeoutMs);
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${target.host}`];
  for (const name of passed) {
    const value = req.headers[name];
    if (value !== undefined) lines.push(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
  }
  if (bearer) lines.push(`Authorization: Bearer ${bearer}`);
  upstream.setNoDelay(true);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    clearTimeout(timer);
    upstream.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length) upstream.write(head);
    // From here the owner's answer (101 or a refusal) and every frame go to the browser as they are.
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.once('error', () => {
    clearTimeout(timer);
    if (!connected) refuseUpgrade(socket, 502, `the host ${peerId} that runs this desktop cannot be reached`);
    else socket.destroy();
  });
  upstream.once('close', () => {
    if (connected) socket.destroy();
  });
  socket.once('error', () => upstream.destroy());
  socket.once('close', () => upstream.destroy());
}
