// freezeframe/client's pure parts: URLs, id checks, errors from answers; what it sends (against a plain HTTP server
// that records requests, judged by the server's own admission check); and its types agreeing with lib/.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createAdmission } from '../server/admission';
import type { ErrorCode } from '../lib/errorCodes';
import type { DesktopState } from '../lib/states';
import type { CheckpointView, DesktopView } from '../lib/viewTypes';
import { FreezeframeClient, FreezeframeError, errorFromResponse, serverRoot, type Checkpoint, type Desktop, type ErrorCode as ClientErrorCode, type DesktopState as ClientState } from '../client/index.js';

// Compile-time: the client's types written out in client/index.d.ts are the server's (tsc --noEmit fails otherwise).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const codesAgree: Same<ClientErrorCode, ErrorCode> = true;
const statesAgree: Same<ClientState, DesktopState> = true;
const desktopFits = (d: DesktopView): Desktop => d;
const checkpointFits = (c: CheckpointView): Checkpoint => c;
void [codesAgree, statesAgree, desktopFits, checkpointFits];

test('the server URL: trailing slashes dropped, a path prefix kept (behind a proxy), nonsense refused', () => {
  assert.equal(serverRoot('http://127.0.0.1:3000/'), 'http://127.0.0.1:3000');
  assert.equal(serverRoot('https://ff.example/sub/'), 'https://ff.example/sub');
  assert.throws(() => serverRoot('127.0.0.1:3000'), (e: unknown) => e instanceof FreezeframeError && e.code === 'invalid' && /only http and https|not a URL/.test(e.message));
  assert.throws(() => serverRoot('ftp://x/'), /only http and https/);
  assert.throws(() => serverRoot('http://x/?token=1'), /no query/);
});

test('viewer URLs: the desktop page, the presenter, the token carried only when there is one', () => {
  const local = new FreezeframeClient({ url: 'http://127.0.0.1:3110/', token: '' });
  assert.equal(local.viewerUrl('d-1a2b3c4d'), 'http://127.0.0.1:3110/desktops/d-1a2b3c4d');
  assert.equal(local.viewerUrl('d-1a2b3c4d', { presenter: true }), 'http://127.0.0.1:3110/desktops/d-1a2b3c4d/present');
  const remote = new FreezeframeClient({ url: 'https://ff.example/sub', token: 'a b&c' });
  assert.equal(remote.viewerUrl('d-1a2b3c4d'), 'https://ff.example/sub/desktops/d-1a2b3c4d?token=a+b%26c');
  for (const bad of ['../etc', 'd-1/../x', 'c-1a2b3c4d', '', 'D-1']) {
    assert.throws(() => local.viewerUrl(bad), (e: unknown) => e instanceof FreezeframeError && e.code === 'invalid' && e.status === 0, bad);
  }
});

test('errors: the API\'s JSON error keeps its code, message and CRIU\'s details; the auth check\'s text is typed too', () => {
  const criu = errorFromResponse(500, JSON.stringify({ error: { code: 'criu', message: 'criu restore failed', exitCode: 1, errors: ['Error (criu/x.c:1): no'], logPath: '/l', hint: 'h' } }));
  assert.ok(criu instanceof FreezeframeError && criu instanceof Error);
  assert.deepEqual({ ...criu, message: criu.message }, { name: 'FreezeframeError', code: 'criu', status: 500, message: 'criu restore failed', exitCode: 1, errors: ['Error (criu/x.c:1): no'], logPath: '/l', hint: 'h' });
  const invalid = errorFromResponse(400, JSON.stringify({ error: { code: 'invalid', message: 'bad body', fields: { count: ['too big'] } } }));
  assert.deepEqual([invalid.code, invalid.status, invalid.fields], ['invalid', 400, { count: ['too big'] }]);
  assert.deepEqual([errorFromResponse(401, 'unauthorized\n').code, errorFromResponse(401, 'unauthorized\n').status], ['unauthorized', 401]);
  assert.equal(errorFromResponse(403, 'forbidden\n').code, 'forbidden');
  assert.equal(errorFromResponse(403, JSON.stringify({ error: { code: 'cross_origin', message: 'm' } })).code, 'cross_origin');
  const proxy = errorFromResponse(502, '<html>Bad Gateway</html>');
  assert.deepEqual([proxy.code, proxy.status], ['internal', 502]);
  assert.match(proxy.message, /HTTP 502: <html>Bad Gateway/);
});

test('what it sends passes the server\'s admission as a client that is no browser: no Origin, JSON typed, the token as Bearer', async () => {
  const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/api/desktops/d-00000001/stop') {
        res.writeHead(409, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: 'busy', message: 'desktop d-00000001 is busy (restore)' } }));
      } else if (req.url?.endsWith('/move')) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ desktop: 'd-00000003', host: 'host2', method: 'page-server' }));
      } else res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ checkpoint: {}, desktops: [{ id: 'd-00000002' }], failed: [], ms: 1 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const client = new FreezeframeClient({ url: `http://127.0.0.1:${port}`, token: 'secret' });
    const cloned = await client.clone('c-1a2b3c4d', { count: 2 });
    assert.equal(cloned.desktops[0].id, 'd-00000002');
    await assert.rejects(client.stop('d-00000001'), (e: unknown) => e instanceof FreezeframeError && e.code === 'busy' && e.status === 409 && e.message === 'desktop d-00000001 is busy (restore)');
    assert.equal((await client.move('d-00000003', 'host2', { method: 'page-server' })).host, 'host2');
    const [clone, stop, move] = seen;
    assert.deepEqual([move.method, move.url, move.body], ['POST', '/api/desktops/d-00000003/move', '{"host":"host2","method":"page-server"}']);
    assert.deepEqual([clone.method, clone.url, clone.body, clone.headers['content-type']], ['POST', '/api/checkpoints/c-1a2b3c4d/clone', '{"count":2}', 'application/json']);
    assert.equal(clone.headers.authorization, 'Bearer secret');
    assert.deepEqual([stop.method, stop.body, stop.headers['content-type']], ['POST', '', undefined]);
    const admission = createAdmission({ port, bindHost: '127.0.0.1' });
    for (const request of seen) {
      assert.equal(request.headers.origin, undefined);
      assert.equal(admission.check({ method: request.method, headers: request.headers }), undefined, `${request.method} ${request.url} admitted`);
    }
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  // Nothing listening (a port just freed): unreachable, with the cause.
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const freed = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(new FreezeframeClient({ url: `http://127.0.0.1:${freed}` }).list(), (e: unknown) => e instanceof FreezeframeError && e.code === 'unreachable' && /ECONNREFUSED/.test(e.message));
});
