import https from 'node:https';
import http from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { makeCa } from './test/support/testCa';
import { loadFleetTrust, peerFetch } from './server/fleet/peerCall';
const ca = await makeCa('bench');
const pair = await ca.issue('b', ['127.0.0.1']);
const trust = loadFleetTrust({ FREEZEFRAME_FLEET_CA: ca.caFile });
const handler = (_q: http.IncomingMessage, r: http.ServerResponse) => r.end('{"ok":true}');
const s1 = https.createServer({ cert: await readFile(pair.cert), key: await readFile(pair.key) }, handler).listen(0, '127.0.0.1');
const s2 = http.createServer(handler).listen(0, '127.0.0.1');
await once(s1, 'listening'); await once(s2, 'listening');
const p1 = (s1.address() as any).port, p2 = (s2.address() as any).port;
for (const [name, url] of [['https (a handshake per call)', `https://127.0.0.1:${p1}/x`], ['http (fetch, pooled)', `http://127.0.0.1:${p2}/x`]] as const) {
  for (let i = 0; i < 20; i++) await (await peerFetch(url, { trust, key: 'k'.repeat(20), ...(url.startsWith('http:') ? { trust: loadFleetTrust({}) } : {}) })).text();
  const t = performance.now();
  const n = 300;
  for (let i = 0; i < n; i++) await (await peerFetch(url, { trust, key: 'k'.repeat(20), ...(url.startsWith('http:') ? { trust: loadFleetTrust({}) } : {}) })).text();
  console.log(name, ((performance.now() - t) / n).toFixed(2), 'ms per call');
}
s1.close(); s2.close(); await ca.dispose();
process.exit(0);
