// The real server bound to a non-loopback address: nothing without the token; the token once, then a cookie.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startExposedServer, type ExposedServer } from './support/exposedServer';
import WebSocket from 'ws';

const port = 3201;
const token = 'test-token-0123456789';
const base = `http://127.0.0.1:${port}`;
let server: ExposedServer;

before(async () => {
  server = await startExposedServer({ port, token, displays: '30-39' });
  assert.match(server.banner, new RegExp(`Freezeframe on http://0\\.0\\.0\\.0:${port}/\\?token=${token}`), 'the URL with its token is printed');
});

after(async () => server.stop());

test('pages and API calls need the token', async () => {
  for (const url of ['/', '/api/desktops', '/environment', `/?token=${token}x`]) {
    const res = await fetch(base + url, { redirect: 'manual' });
    assert.equal(res.status, 401, url);
    assert.equal(await res.text(), 'unauthorized\n', 'a refused request learns nothing else');
  }
});

test('the token in the URL becomes a cookie, then every request passes', async () => {
  const res = await fetch(`${base}/?token=${token}`, { redirect: 'manual' });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/');
  const cookie = res.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^freezeframe_token=.+; HttpOnly; SameSite=Strict; Path=\//);
  const withCookie = await fetch(`${base}/api/desktops`, { headers: { cookie: cookie.split(';')[0] } });
  assert.equal(withCookie.status, 200);
  const withBearer = await fetch(`${base}/api/desktops`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(withBearer.status, 200);
});

test('WebSocket upgrades need the token and the same origin', async () => {
  const status = (headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/desktops/d-00000000/vnc`, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
  assert.equal(await status({}), 401);
  const cookie = `freezeframe_token=${token}`;
  assert.equal(await status({ cookie, origin: 'http://evil.example' }), 403);
  assert.equal(await status({ cookie, origin: `http://127.0.0.1:${port}` }), 404, 'past the checks: no such desktop');
});
