// The one HTTP server (HTTPS with FREEZEFRAME_TLS_CERT/KEY): Next.js pages and actions, plus WebSocket upgrades for
// desktops' VNC (the bridge).
import 'server-only';
import { createServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import next from 'next';
import { createAdmission, type Refusal } from './admission';
import { setViewTokens } from './audience';
import { desktopIdSegment } from '../lib/ids';
import { createAuth } from './auth';
import { fleetKey } from './fleet/fleetKey';
import { createBridge } from './bridge/bridge';
import { refuseUpgrade } from './bridge/upgradeHttp';
import { createEngine } from './engine';
import { setEngine } from './engineHandle';
import { followOtherProcesses } from './desktops/recordFollower';
import { applySecurityHeaders } from './securityHeaders';
import { serveFast } from './api/fastRoutes';
import { startFleet } from './fleet/fleet';
import { getPeers, setPeers } from './fleet/peersHandle';
import { raiseServerPriority } from './priority';
import { fleetTrust } from './fleet/peerCall';
import { loadServerTls } from './serverTls';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const dev = process.env.NODE_ENV === 'development';
// HTTPS when FREEZEFRAME_TLS_CERT/KEY are set, and how peers are trusted (FREEZEFRAME_FLEET_CA): both checked before
// anything starts, so a key others can read or a CA file that is no CA stops the server with that said.
const tls = loadServerTls();
const scheme = tls ? 'https' : 'http';
fleetTrust();

// Ahead of ordinary work (server/priority.ts); the desktops it starts run at nice 0.
raiseServerPriority();
const engine = await createEngine();
setEngine(engine);
const { desktops } = engine;
// A checkpoint made with the CLI must hold the bridge's bytes just like one made from the page.
const unfollow = followOtherProcesses(desktops);
await desktops.keepReady();
// In a fleet: this host's lease, its catalog and the fleet view (server/fleet/). Without FREEZEFRAME_ETCD none of it;
// a fleet listed by its operator (FREEZEFRAME_PEERS) is the static directory of fleet/staticPeers.ts.
if (engine.config.fleet) {
  const shown = host.includes(':') ? `[${host}]` : host;
  engine.fleet = await startFleet(engine.config.fleet, desktops, { keyDir: engine.config.keyDir, fallbackUrl: `${scheme}://${shown}:${port}` });
  // Moves ask the same directory the fleet view shows (the etcd one).
  setPeers(engine.fleet.peers);
  console.log(`in the fleet as ${engine.fleet.self} (etcd ${engine.config.fleet.etcd.join(', ')}; ${engine.fleet.peers.fresh() ? 'reachable' : 'unreachable for now'})`);
}
const peerKey = engine.fleet?.key ?? fleetKey();

// A move this server died in the middle of: finished or undone, once the target has been asked (fleet/recover.ts).
void (async () => {
  const { recoverMoves } = await import('./fleet/recover');
  for (const r of await recoverMoves(desktops, getPeers(), peerKey)) {
    console.warn(`freezeframe: desktop ${r.desktop}, moving to ${r.host} when this server stopped: ${r.outcome}${r.why ? ` (${r.why})` : ''}`);
  }
})().catch((error: unknown) => console.error('freezeframe: recovering moves failed:', error));

// "serve the dashboard with a default desktop running": one running (or frozen) desktop is enough.
if (process.env.FREEZEFRAME_DEFAULT_DESKTOP !== '0') {
  const all = await desktops.list();
  if (!all.some((d) => d.state === 'running' || d.state === 'checkpointed')) {
    const d = await desktops.start({});
    console.log(`started default desktop ${d.id} on display :${d.display}`);
  }
}

const app = next({ dev, dir: engine.config.rootDir, hostname: host, port });
await app.prepare();
const handle = app.getRequestHandler();
const nextUpgrade = dev ? app.getUpgradeHandler() : undefined;

const bridge = createBridge({
  // Here, or (in a fleet) on the host the catalog names: a desktop this host has (moved here, not yet listed) is
  // served here.
  lookup: async (id) => (await desktops.vncTarget(id)) ?? remoteTarget(id),
  events: desktops,
});

// Bound to anything but loopback, every page, action, API call and WebSocket needs the token.
// A desktop's view token (its audience link) opens only that desktop's watch page, its reads and its VNC.
// A host of the fleet shows the fleet's key (host-to-host calls: the relay, forwarded starts, a move's archive).
const auth = createAuth(host, process.env.FREEZEFRAME_TOKEN, peerKey, { secure: !!tls });
setViewTokens((id) => auth.viewToken(id));

// Before anything else: a Host this server answers to (no DNS rebinding), and the dashboard's own origin for any
// change (no cross-site request). Then the token, where one is needed.
const admission = createAdmission({ port, bindHost: host, allowedHosts: process.env.FREEZEFRAME_ALLOWED_HOSTS });
const refuse = (res: import('node:http').ServerResponse, refusal: Refusal) => {
  res.writeHead(refusal.status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify({ error: { code: refusal.code, message: refusal.message } }) + '\n');
};

const serve: RequestListener = (req, res) => {
  applySecurityHeaders(req, res, dev);
  const refusal = admission.check(req);
  if (refusal) return refuse(res, refusal);
  if (!auth.allowRequest(req, res)) return;
  if (serveFast(req, res)) return;
  handle(req, res).catch((error: unknown) => {
    console.error(error);
    res.statusCode = 500;
    res.end('internal error');
  });
};
// The same admission, headers, token, SSE and upgrades over either.
const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, serve) : createServer(serve);

const vncPath = new RegExp(`^/api/desktops/(${desktopIdSegment})/vnc$`);
server.on('upgrade', (req, socket, head) => {
  const refusal = admission.check(req, true);
  if (refusal) return refuseUpgrade(socket, refusal.status, refusal.message);
  const allowed = auth.checkUpgrade(req);
  if (allowed !== 200) return refuseUpgrade(socket, allowed, allowed === 401 ? 'unauthorized' : 'forbidden');
  const url = new URL(req.url ?? '/', 'http://localhost');
  const match = vncPath.exec(url.pathname);
  if (match) return bridge.handleUpgrade(req, socket, head, match[1]);
  if (nextUpgrade) return nextUpgrade(req, socket, head);
  socket.destroy();
});

/** The other host that runs this desktop (the fleet's catalog), its VNC path there and the fleet key. */
function remoteTarget(id: string) {
  const peer = engine.fleet?.ownerOf(id);
  return peer && { remote: { host: peer.id, url: peer.url, path: `/api/desktops/${id}/vnc`, bearer: engine.fleet!.key } };
}

// Idle keep-alive connections are kept longer than clients keep theirs (Node's 5 s default): a client that reuses
// one just as the server closes it gets ECONNRESET (an e2e GET after a 5 s freeze did, once in CI).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, host, () => {
  const shown = host.includes(':') ? `[${host}]` : host;
  console.log(`Freezeframe on ${scheme}://${shown}:${port}${auth.token ? `/?token=${auth.token}` : ''}`);
});

function shutdown() {
  // Desktops are not children of this process: they keep running, and the next start reconciles with them.
  bridge.close();
  unfollow();
  void engine.fleet?.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
