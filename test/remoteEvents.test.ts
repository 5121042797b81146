// The relay of another host's event stream to this host's pages (server/fleet/remoteEvents.ts), its lifecycle against
// a real HTTP server on loopback standing for the owner (the fleet's real hosts: test/fleet.test.ts, e2e/fleetLive.
// spec.ts): one upstream per desktop however many pages watch, closed when the last one leaves; the owner gone: the
// pages told it is stale, and the relay reconnects by itself when it is back; a move: it follows the new owner.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { remoteFeeds, sseParser, type FeedLink, type FeedMessage, type FeedWatcher } from '../server/fleet/remoteEvents';
import type { Peer } from '../server/fleet/peers';
import { eventually } from './support/eventually';

/** An owner's /api/events: keeps every stream open, sends what the test pushes, counts and names its streams. */
class Owner {
  server: Server;
  streams = new Set<ServerResponse>();
  requests: { path: string; authorization?: string }[] = [];
  sockets = new Set<Socket>();
  port = 0;
  constructor(readonly id: string) {
    this.server = this.make();
  }
  private make() {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(`retry: 2000\nevent: hello\ndata: {"serverTime":"x"}\n\n`);
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }
  async listen(port = 0) {
    this.server = this.make();
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }
  /** The host dies: every connection cut, nothing listening. */
  async kill() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
  push(event: string, data: unknown) {
    for (const res of this.streams) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
  get peer(): Peer {
    return { id: this.id, url: `http://127.0.0.1:${this.port}`, publicKey: 'k', memAvailableBytes: 0, seenAt: '' };
  }
}

function recorder(): FeedWatcher & { messages: FeedMessage[]; links: FeedLink[] } {
  const messages: FeedMessage[] = [];
  const links: FeedLink[] = [];
  return { messages, links, onMessage: (m) => messages.push(m), onLink: (l) => links.push(l) };
}

const lastLink = (w: { links: FeedLink[] }) => w.links.at(-1);

function feedsFor(owners: () => Peer | undefined, absentMs = 3_000) {
  return remoteFeeds({
    absentMs,
    ownerOf: () => owners(),
    call: (peer, path, init) => fetch(`${peer.url}${path}`, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), Authorization: 'Bearer fleet-key' } }),
    checkMs: 50,
    retryMs: 50,
    maxRetryMs: 200,
  });
}

test('one upstream for every page watching a desktop, with the fleet key; closed when the last page leaves', async () => {
  const owner = new Owner('h2');
  await owner.listen();
  const feeds = feedsFor(() => owner.peer);
  try {
    const a = recorder();
    const b = recorder();
    const stopA = feeds.watch('d-1', '/api/events?desktop=d-1', a);
    await eventually(() => assert.equal(owner.streams.size, 1, 'the owner has the relay\'s stream'));
    await eventually(() => assert.deepEqual(lastLink(a), { host: 'h2', live: true }));
    const stopB = feeds.watch('d-1', '/api/events?desktop=d-1', b);
    assert.deepEqual(lastLink(b), { host: 'h2', live: true }, 'a page joining a live relay is told at once');
    assert.deepEqual(owner.requests, [{ path: '/api/events?desktop=d-1', authorization: 'Bearer fleet-key' }], 'one request for both pages');
    assert.equal(feeds.open(), 1);

    owner.push('desktop', { type: 'checkpointed', desktop: { id: 'd-1' } });
    await eventually(() => assert.equal(b.messages.length, 1, `b got ${b.messages.length}`));
    assert.deepEqual(a.messages, [{ event: 'desktop', data: { type: 'checkpointed', desktop: { id: 'd-1' } } }], 'the owner\'s hello is not passed on');

    stopA();
    owner.push('desktop', { type: 'restored', desktop: { id: 'd-1' } });
    await eventually(() => assert.equal(b.messages.length, 2, `b got ${b.messages.length}`));
    assert.equal(a.messages.length, 1, 'a left: nothing more for it');
    assert.equal(owner.streams.size, 1, 'b still watches: the stream stays');

    stopB();
    await eventually(() => assert.equal(owner.streams.size, 0, 'the last page left: the owner\'s stream is closed'));
    await eventually(() => assert.equal(feeds.open(), 0, 'no upstream left'));
    stopB(); // twice: nothing more
    // Watched again later: a new stream.
    const c = recorder();
    const stopC = feeds.watch('d-1', '/api/events?desktop=d-1', c);
    await eventually(() => assert.equal(owner.requests.length, 2, 'a second request'));
    stopC();
    await eventually(() => assert.equal(owner.streams.size, 0, 'closed again'));
  } finally {
    feeds.close();
    await owner.kill();
  }
});

test('the owner gone: the pages are told the relay is stale; back: it reconnects by itself and events flow again', async () => {
  const owner = new Owner('h2');
  await owner.listen();
  const feeds = feedsFor(() => owner.peer);
  const page = recorder();
  const stop = feeds.watch('d-1', '/api/events?desktop=d-1', page);
  try {
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h2', live: true }));
    const port = owner.port;
    await owner.kill();
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h2', live: false }, 'stale once the owner is gone'));
    // Tries again meanwhile (backoff up to 200 ms here) and stays stale, without a message of its own.
    assert.equal(page.messages.length, 0, 'nothing made up');
    await owner.listen(port);
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h2', live: true }, 'live again once the owner answers'), 5_000);
    owner.push('desktop', { type: 'started', desktop: { id: 'd-1' } });
    await eventually(() => assert.equal(page.messages.length, 1, `got ${page.messages.length}`));
    assert.deepEqual(page.links.map((l) => l.live), [true, false, true], 'live, stale, live: each said once');
  } finally {
    stop();
    feeds.close();
    await owner.kill();
  }
});

test('the desktop moves to another host: the relay follows it; back here: it relays nothing; unknown: no request', async () => {
  const h2 = new Owner('h2');
  const h3 = new Owner('h3');
  await h2.listen();
  await h3.listen();
  let owner: Owner | undefined;
  const feeds = feedsFor(() => owner?.peer);
  const page = recorder();
  const stop = feeds.watch('d-1', '/api/events?desktop=d-1', page);
  try {
    // Nobody else runs it (it is here): no stream anywhere, the page's link says so.
    await eventually(() => assert.equal(page.links.length, 0, 'still local: no link message'));
    assert.equal(h2.requests.length + h3.requests.length, 0, 'no request to any host');
    owner = h2;
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h2', live: true }));
    owner = h3;
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h3', live: true }, 'follows the move'));
    await eventually(() => assert.equal(h2.streams.size, 0, 'the old owner\'s stream is closed'));
    h3.push('desktop', { type: 'started', desktop: { id: 'd-1' } });
    await eventually(() => assert.equal(page.messages.length, 1, `got ${page.messages.length}`));
    assert.ok(!page.links.some((l) => !l.live), 'a move is no outage: never stale');
    owner = undefined; // back here (or gone from the catalog)
    await eventually(() => assert.equal(h3.streams.size, 0, 'h3\'s stream is closed'));
    await eventually(() => assert.equal(feeds.open(), 0, 'nothing relayed'));
  } finally {
    stop();
    feeds.close();
    await h2.kill();
    await h3.kill();
  }
});

test('a relayed desktop in no host\'s entry: stale only once that lasts (a move passes through none for a moment)', async () => {
  const h2 = new Owner('h2');
  const h3 = new Owner('h3');
  await h2.listen();
  await h3.listen();
  let owner: Owner | undefined = h2;
  const feeds = feedsFor(() => owner?.peer, 1_500);
  const page = recorder();
  const stop = feeds.watch('d-1', '/api/events?desktop=d-1', page);
  try {
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h2', live: true }));
    owner = undefined; // between the source's entry and the target's
    await eventually(() => assert.equal(h2.streams.size, 0, 'h2\'s stream closed'));
    owner = h3;
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h3', live: true }));
    assert.ok(!page.links.some((l) => !l.live), 'a moment in no entry is not stale');
    owner = undefined; // h3's lease ran out
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h3', live: false }, 'stale once it lasts'), 5_000);
  } finally {
    stop();
    feeds.close();
    await h2.kill();
    await h3.kill();
  }
});

test('an owner that takes the connection and never answers (its machine gone, a hung server): stale, not live', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer(() => {}); // never answers
  silent.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const peer: Peer = { id: 'h9', url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, publicKey: 'k', memAvailableBytes: 0, seenAt: '' };
  const feeds = remoteFeeds({ ownerOf: () => peer, call: (p, path, init) => fetch(`${p.url}${path}`, init), checkMs: 50, retryMs: 50, answerMs: 300 });
  const page = recorder();
  const stop = feeds.watch('d-1', '/api/events?desktop=d-1', page);
  try {
    await eventually(() => assert.deepEqual(lastLink(page), { host: 'h9', live: false }, 'stale once no answer came in time'), 5_000);
    assert.ok(!page.links.some((l) => l.live && l.host === 'h9'), 'never said live');
  } finally {
    stop();
    feeds.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('the event stream parser: messages split anywhere, CRLF, comments, retry and multi-line data', () => {
  const got: FeedMessage[] = [];
  const feed = sseParser((m) => got.push(m));
  const text = 'retry: 2000\nevent: hello\ndata: {"a":1}\n\n: ping\n\nevent: desktop\r\ndata: {"b":\r\ndata: 2}\r\n\r\ndata: [3]\n\nevent: x\ndata: not json\n\n';
  for (let i = 0; i < text.length; i += 7) feed(text.slice(i, i + 7));
  assert.deepEqual(got, [
    { event: 'hello', data: { a: 1 } },
    { event: 'desktop', data: { b: 2 } },
    { event: 'message', data: [3] },
  ]);
});
