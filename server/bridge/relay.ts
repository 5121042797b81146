// The VNC WebSocket of a desktop on another host, relayed by the host that serves the page: the browser talks only
// to its dashboard's origin (admission and the token were checked there, as for a local desktop); this host opens
// the same upgrade on the owner with the fleet key and then copies bytes both ways. The WebSocket frames pass
// through untouched (RFB end to end, the owner's bridge and freeze gate apply), so the relay adds one TCP hop and no
// parsing. The browser's cookie and Origin stay here: the owner sees a non-browser client with the fleet key. An
// https owner is reached over TLS, its certificate checked against the fleet's trust (FREEZEFRAME_FLEET_CA).
import 'server-only';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RemoteTarget } from '../vnc/target';
import { PeerTlsError, peerUpgrade } from '../fleet/peerCall';
import { refuseUpgrade } from './upgradeHttp';

/** Request headers a WebSocket handshake needs, passed as the browser sent them. */
const passed = ['upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions'];

export function relayUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, remote: RemoteTarget['remote'], timeoutMs = 5_000): void {
  const { host: peerId, url, path, bearer } = remote;
  const target = new URL(url);
  const headers: [string, string][] = [];
  for (const name of passed) {
    const value = req.headers[name];
    if (value !== undefined) headers.push([name, Array.isArray(value) ? value.join(', ') : value]);
  }
  let upstream: Socket | undefined;
  let gone = false;
  socket.once('error', () => upstream?.destroy());
  socket.once('close', () => {
    gone = true;
    upstream?.destroy();
  });
  // TCP, or TLS verified for the peer's name before a byte (and the key) is written (fleet/peerCall.ts).
  peerUpgrade(target, path, headers, { timeoutMs, key: bearer }).then(
    (connected) => {
      upstream = connected;
      if (gone) return connected.destroy();
      if (head.length) connected.write(head);
      // From here the owner's answer (101 or a refusal) and every frame go to the browser as they are.
      connected.pipe(socket);
      socket.pipe(connected);
      connected.once('error', () => socket.destroy());
      connected.once('close', () => socket.destroy());
    },
    (error: Error) => {
      if (gone) return;
      const why = error instanceof PeerTlsError ? error.message : `cannot be reached (${error.message})`;
      refuseUpgrade(socket, 502, `the host ${peerId} that runs this desktop: ${why}`);
    },
  );
}
