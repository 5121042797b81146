// server/fleet/peerCall.ts, the one way a host talks to a peer, against real TLS servers on loopback (certificates of
// a throwaway CA made with openssl): the fleet key goes only over a connection whose certificate verified for the
// peer's name; a certificate of another CA, or for another name, is an error that says so and the server it came
// from receives no byte of the request; an http:// peer gets no key once TLS is required. And the checks of
// FREEZEFRAME_FLEET_CA, FREEZEFRAME_FLEET_REQUIRE_TLS and FREEZEFRAME_TLS_CERT/KEY.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { loadFleetTrust, peerFetch, PeerTlsError, type FleetTrust } from '../server/fleet/peerCall';
import { loadServerTls } from '../server/serverTls';
import { makeCa, type TestCa } from './support/testCa';

const key = 'k'.repeat(32);
let fleet: TestCa;
let other: TestCa;
let trust: FleetTrust;
const servers: net.Server[] = [];

/** A TLS (or plain TCP) server on loopback that records every byte it receives, answering each request 200 with its body. */
async function recorder(cert?: { cert: string; key: string }) {
  const received: Buffer[] = [];
  let connections = 0;
  const onSocket = (socket: net.Socket) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
      const chunked = /transfer-encoding: chunked/i.test(text);
      if (end >= 0 && (chunked ? text.endsWith('0\r\n\r\n') : text.length >= end + 4 + length)) {
        const body = chunked ? text.slice(end + 4).replace(/(^|\r\n)[0-9a-f]+\r\n/g, '').replace(/\r\n$/, '') : text.slice(end + 4);
        socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\nConnection: close\r\n\r\n${body}`);
      }
    });
    socket.on('error', () => {});
  };
  const server = cert
    ? tls.createServer({ cert: await readFile(cert.cert, 'utf8'), key: await readFile(cert.key, 'utf8') }, onSocket)
    : net.createServer(onSocket);
  server.on('tlsClientError', () => {});
  server.on('connection', () => connections++); // TCP, before any handshake
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const port = (server.address() as net.AddressInfo).port;
  return { port, text: () => Buffer.concat(received).toString('latin1'), connections: () => connections };
}

before(async () => {
  fleet = await makeCa('fleet');
  other = await makeCa('other');
  trust = loadFleetTrust({ FREEZEFRAME_FLEET_CA: fleet.caFile });
});

after(async () => {
  for (const s of servers) s.close();
  await fleet?.dispose();
  await other?.dispose();
});

test('a peer whose certificate verifies gets the call with the fleet key; a streamed body arrives whole', async () => {
  const peer = await recorder(await fleet.issue('good', ['127.0.0.1']));
  const response = await peerFetch(`https://127.0.0.1:${peer.port}/api/fleet/receive`, {
    method: 'POST', key, trust, duplex: 'half',
    body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('archive ')); c.enqueue(new TextEncoder().encode('bytes')); c.close(); } }),
  } as RequestInit & { key: string; trust: FleetTrust });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'archive bytes');
  assert.match(peer.text(), new RegExp(`^POST /api/fleet/receive HTTP/1.1\r\n`), 'the request line');
  assert.match(peer.text(), new RegExp(`authorization: Bearer ${key}`, 'i'), 'the fleet key, over TLS');
  assert.match(peer.text(), new RegExp(`host: 127.0.0.1:${peer.port}`, 'i'), 'the peer\'s own Host (its admission)');
});

test('a certificate of another CA, or for another name: refused with the reason, and the server receives nothing', async () => {
  const rogue = await recorder(await other.issue('rogue', ['127.0.0.1']));
  await assert.rejects(peerFetch(`https://127.0.0.1:${rogue.port}/api/desktops`, { key, trust }), (error: Error) => {
    assert.ok(error instanceof PeerTlsError, `a PeerTlsError: ${error}`);
    assert.match(error.message, /TLS certificate of 127\.0\.0\.1:\d+ does not verify against FREEZEFRAME_FLEET_CA .*UNABLE_TO_VERIFY_LEAF_SIGNATURE.*not the fleet key/);
    return true;
  });
  const misnamed = await recorder(await fleet.issue('misnamed', ['10.0.0.9', 'peer.example']));
  await assert.rejects(peerFetch(`https://127.0.0.1:${misnamed.port}/api/desktops`, { key, trust }), /does not verify.*ERR_TLS_CERT_ALTNAME_INVALID/);
  // Let the servers' side of the refused handshakes finish.
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(rogue.connections() === 1 && misnamed.connections() === 1, 'each was reached (its TCP connection, then the handshake)');
  assert.equal(rogue.text(), '', 'no byte of the request (nor the key) reached the rogue server');
  assert.equal(misnamed.text(), '', 'nor the misnamed one');
});

test('TLS required (a fleet CA set): an http:// peer gets no connection at all; without the requirement it gets the call', async () => {
  const plain = await recorder();
  assert.equal(trust.requireTls, true, 'on once FREEZEFRAME_FLEET_CA is set');
  await assert.rejects(peerFetch(`http://127.0.0.1:${plain.port}/api/desktops`, { key, trust }), (error: Error) => {
    assert.ok(error instanceof PeerTlsError, `a PeerTlsError: ${error}`);
    assert.match(error.message, /refusing to send the fleet key to http:\/\/127\.0\.0\.1:\d+ in clear/);
    return true;
  });
  assert.equal(plain.connections(), 0, 'not even connected');
  const relaxed = loadFleetTrust({ FREEZEFRAME_FLEET_CA: fleet.caFile, FREEZEFRAME_FLEET_REQUIRE_TLS: '0' });
  assert.equal((await peerFetch(`http://127.0.0.1:${plain.port}/x`, { key, trust: relaxed })).status, 200);
  // A call without the key (etcd's) is not concerned.
  assert.equal((await peerFetch(`http://127.0.0.1:${plain.port}/v3/kv/range`, { trust, method: 'POST', body: '{}' })).status, 200);
});

test('the settings: when TLS is required, and a CA or a key that cannot be used is refused with a clear error', async () => {
  assert.equal(loadFleetTrust({}).requireTls, false, 'a fleet without TLS settings: as before');
  assert.equal(loadFleetTrust({ FREEZEFRAME_TLS_CERT: '/x' }).requireTls, true, 'serving TLS itself');
  assert.equal(loadFleetTrust({ FREEZEFRAME_FLEET_REQUIRE_TLS: '1' }).requireTls, true, 'public certificates, no CA of its own');
  assert.match(loadFleetTrust({}).caSource, /system's CAs|built-in/);
  assert.throws(() => loadFleetTrust({ FREEZEFRAME_FLEET_REQUIRE_TLS: 'yes' }), /0 or 1/);
  assert.throws(() => loadFleetTrust({ FREEZEFRAME_FLEET_CA: '/nonexistent/ca.pem' }), /FREEZEFRAME_FLEET_CA: cannot read/);
  const notPem = path.join(fleet.dir, 'not.pem');
  await writeFile(notPem, 'hello');
  assert.throws(() => loadFleetTrust({ FREEZEFRAME_FLEET_CA: notPem }), /holds no PEM certificate/);

  const pair = await fleet.issue('server', ['127.0.0.1']);
  assert.equal(loadServerTls({}), undefined, 'neither set: plain HTTP');
  assert.ok(loadServerTls({ FREEZEFRAME_TLS_CERT: pair.cert, FREEZEFRAME_TLS_KEY: pair.key })?.cert.includes('BEGIN CERTIFICATE'), 'both: read');
  assert.throws(() => loadServerTls({ FREEZEFRAME_TLS_CERT: pair.cert }), /needs both FREEZEFRAME_TLS_CERT and FREEZEFRAME_TLS_KEY/);
  await chmod(pair.key, 0o644);
  assert.throws(() => loadServerTls({ FREEZEFRAME_TLS_CERT: pair.cert, FREEZEFRAME_TLS_KEY: pair.key }), /readable or writable by others \(mode 644\): chmod 600 it/);
});
