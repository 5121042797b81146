// The real server bound to loopback, attacked as a hostile web page or a rebinding DNS name would (issue #10): a
// foreign Host is served nothing, a change from another origin is refused, no list or broadcast carries a secret,
// and behind a real nginx passing Host it works with the documented setting.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import type { DesktopRecord } from '../server/desktops/records';
import { eventually } from './support/eventually';
import { startExposedServer, type ExposedServer } from './support/exposedServer';

const port = 3211;
const proxyPort = 3212;
const base = `http://127.0.0.1:${port}`;
const proxyName = 'freezeframe.test';
const json = { 'content-type': 'application/json' };
let server: ExposedServer | undefined;
let desktop: DesktopRecord;

before(async () => {
  server = await startExposedServer({ port, host: '127.0.0.1', displays: '120-129', env: { FREEZEFRAME_ALLOWED_HOSTS: proxyName } });
  const started = await fetch(`${base}/api/desktops`, { method: 'POST', headers: json, body: JSON.stringify({ geometry: '640x480', apps: ['xclock'] }) });
  assert.equal(started.status, 201, await started.clone().text());
  desktop = (await started.json()).desktop;
});

after(async () => {
  if (desktop) await fetch(`${base}/api/desktops/${desktop.id}/stop`, { method: 'POST' }).catch(() => {});
  await server?.stop();
});

/** What the server holds: the ids and states of every desktop, and the number of checkpoints. */
async function snapshot() {
  const { desktops } = await (await fetch(`${base}/api/desktops`)).json();
  return {
    desktops: (desktops as { id: string; state: string; checkpoints: unknown[] }[]).map((d) => `${d.id}:${d.state}`).sort(),
    checkpoints: (desktops as { checkpoints: unknown[] }[]).reduce((n, d) => n + d.checkpoints.length, 0),
  };
}

/** The status of a WebSocket upgrade to the desktop's VNC with these headers (101: opened). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, ['binary'], { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', () => resolve(0));
  });
}

test('DNS rebinding: a foreign Host is served nothing and changes nothing', async () => {
  const before = await snapshot();
  const rebound = 'attacker.example:' + port;
  // The rebinding page is same-origin with its own name: its requests carry that Host, and that Origin.
  const headers = { host: rebound, origin: `http://${rebound}` };
  const requests: [string, string, Record<string, string>, string?][] = [
    ['GET', '/', {}],
    ['GET', '/api/desktops', {}],
    ['GET', `/api/desktops/${desktop.id}`, {}],
    ['GET', '/api/events', {}],
    ['GET', `/desktops/${desktop.id}`, {}],
    ['GET', '/_next/static/not-even-there.js', {}],
    ['POST', `/api/desktops/${desktop.id}/checkpoint`, json, '{}'],
    ['POST', '/api/desktops', json, '{"commands":[["xeyes"]]}'],
    ['POST', `/api/desktops/${desktop.id}/stop`, json, '{}'],
    ['POST', `/desktops/${desktop.id}`, { 'next-action': '0'.repeat(42) }, '[]'],
  ];
  // undici will not send a Host of our choosing; node:http will.
  const { request } = await import('node:http');
  for (const [method, url, extra, body] of requests) {
    const status = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path: url, headers: { ...headers, ...extra } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status.status, 403, `${method} ${url}`);
    assert.equal(JSON.parse(status.text).error.code, 'forbidden_host', `${method} ${url}: a clear JSON refusal`);
    assert.ok(!status.text.includes(desktop.vncPassword), 'nothing of the desktop');
  }
  assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/api/desktops/${desktop.id}/vnc`, headers), 403, 'the VNC WebSocket');
  assert.deepEqual(await snapshot(), before, 'nothing changed');
});

test('cross-site requests that need no preflight change nothing', async () => {
  const before = await snapshot();
  const attempts: [string, string, Record<string, string>, string, number][] = [
    // A sandboxed frame or a data: page: Origin null, text/plain (a "simple" request), with commands to run.
    ['POST', '/api/desktops', { origin: 'null', 'content-type': 'text/plain' }, '{"commands":[["xeyes"]]}', 403],
    // A form on another site.
    ['POST', `/api/desktops/${desktop.id}/stop`, { origin: 'http://attacker.example', 'content-type': 'application/x-www-form-urlencoded' }, 'a=b', 403],
    ['POST', `/api/desktops/${desktop.id}/checkpoint`, { origin: 'http://attacker.example', 'content-type': 'text/plain' }, '{}', 403],
    // Another port of this machine is another origin.
    ['POST', `/api/desktops/${desktop.id}/checkpoint`, { origin: 'http://127.0.0.1:8080', ...json }, '{}', 403],
    // A browser that sent no Origin still says where the request came from.
    ['POST', `/api/desktops/${desktop.id}/stop`, { 'sec-fetch-site': 'cross-site' }, '', 403],
    ['DELETE', '/api/checkpoints/c-00000000', { origin: 'http://attacker.example' }, '', 403],
    ['POST', '/api/checkpoints/import', { origin: 'http://attacker.example', 'content-type': 'application/gzip' }, 'x', 403],
    ['POST', '/api/checkpoints/import', { origin: 'http://attacker.example', 'content-type': 'application/zstd' }, 'x', 403],
    ['DELETE', `/api/desktops/${desktop.id}`, { origin: 'http://attacker.example' }, '', 403],
    ['PUT', `/api/desktops/${desktop.id}/retention`, { origin: 'http://attacker.example', 'content-type': 'text/plain' }, '{"keepLast":1}', 403],
    ['PUT', '/api/checkpoints/c-00000000/pin', { origin: 'http://attacker.example', 'content-type': 'text/plain' }, '{"pinned":true}', 403],
    ['POST', '/api/checkpoints/c-00000000/clone', { origin: 'http://attacker.example', 'content-type': 'text/plain' }, '{"count":8}', 403],
    // The fleet's routes: a move, a move's receiving side, a page server.
    ['POST', `/api/desktops/${desktop.id}/move`, { origin: 'http://attacker.example', 'content-type': 'text/plain' }, '{"host":"evil"}', 403],
    ['POST', `/api/desktops/${desktop.id}/move`, { origin: 'null', ...json }, '{"host":"evil"}', 403],
    ['POST', '/api/fleet/receive', { origin: 'http://attacker.example', 'content-type': 'application/zstd' }, 'x', 403],
    ['POST', '/api/fleet/pages', { 'sec-fetch-site': 'cross-site', ...json }, '{}', 403],
    // A server action from another site.
    ['POST', `/desktops/${desktop.id}`, { origin: 'http://attacker.example', 'next-action': '0'.repeat(42), 'content-type': 'text/plain' }, '[]', 403],
    // Without an Origin (not a browser) the types are checked all the same: JSON endpoints take JSON only, the import
    // its archive type only.
    ['POST', '/api/desktops', { 'content-type': 'text/plain' }, '{"commands":[["xeyes"]]}', 415],
    ['POST', `/api/desktops/${desktop.id}/stop`, { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b', 415],
    ['POST', '/api/checkpoints/import', { 'content-type': 'application/x-www-form-urlencoded' }, 'x', 415],
    ['POST', '/api/checkpoints/import', { 'content-type': 'application/x-tar' }, 'x', 415],
    ['PUT', `/api/desktops/${desktop.id}/retention`, { 'content-type': 'text/plain' }, '{"keepLast":1}', 415],
    ['POST', '/api/checkpoints/c-00000000/clone', { 'content-type': 'text/plain' }, '{"count":8}', 415],
  ];
  for (const [method, url, headers, body, expected] of attempts) {
    const res = await fetch(base + url, { method, headers, body: body || undefined });
    const text = await res.text();
    assert.equal(res.status, expected, `${method} ${url} ${JSON.stringify(headers)}: ${text}`);
    assert.match(JSON.parse(text).error.code, expected === 403 ? /^cross_origin$/ : /^unsupported_media_type$/);
  }
  assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/api/desktops/${desktop.id}/vnc`, { origin: 'null' }), 403);
  assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/api/desktops/${desktop.id}/vnc`, { origin: 'http://attacker.example' }), 403);
  assert.deepEqual(await snapshot(), before, 'nothing changed');

  // The dashboard's own origin, and a client that is no browser (curl, scripts), keep working.
  const own = await fetch(`${base}/api/desktops/${desktop.id}`, { headers: { origin: base } });
  assert.equal(own.status, 200);
  assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/api/desktops/${desktop.id}/vnc`, { origin: base }), 101);
  const emptyPost = await fetch(`${base}/api/desktops/d-00000000/stop`, { method: 'POST' });
  assert.equal(emptyPost.status, 404, 'an empty POST without a type is welcome (and reaches the engine)');
});

test('every answer carries the headers: no framing, own scripts only (with a nonce), nosniff, no referrer to other sites', async () => {
  for (const url of ['/', `/desktops/${desktop.id}`, '/api/desktops', '/no-such-page']) {
    const res = await fetch(base + url);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/, url);
    const nonce = /script-src 'self' 'nonce-([^']+)'(;|$)/.exec(csp)?.[1];
    assert.ok(nonce, `${url}: scripts from the dashboard only: ${csp}`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    // same-origin, not no-referrer: under no-referrer the dashboard's own native form posts carry Origin: null (e2e/nativeForm).
    assert.equal(res.headers.get('referrer-policy'), 'same-origin');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    if (res.headers.get('content-type')?.startsWith('text/html')) {
      const html = await res.text();
      const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      assert.ok(scripts.length > 0, url);
      for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), `${url}: every script carries this response's nonce: ${tag}`);
    } else {
      await res.arrayBuffer();
    }
  }
});

test('no VNC password in a list or a broadcast; the control one only in the desktop detail', async () => {
  const secrets = [desktop.vncPassword, desktop.vncViewPassword!];
  const abort = new AbortController();
  const events = await fetch(`${base}/api/events`, { signal: abort.signal });
  const reader = events.body!.getReader();
  let streamed = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      streamed += Buffer.from(value!).toString();
    }
  })();
  // A snapshot: checkpointing and checkpointed events, with the checkpoint's record (which names its desktop).
  const dumped = await fetch(`${base}/api/desktops/${desktop.id}/checkpoint`, { method: 'POST', headers: { ...json, origin: base }, body: '{"leaveRunning":true}' });
  assert.equal(dumped.status, 201, await dumped.clone().text());
  const checkpoint = (await dumped.json()).checkpoint;
  await eventually(() => assert.match(streamed, /"type":"checkpointed"/), 15_000);
  abort.abort();
  await reading;

  const list = await (await fetch(`${base}/api/desktops`)).text();
  const detail = await (await fetch(`${base}/api/checkpoints/${checkpoint.id}`)).text();
  assert.ok(list.includes(desktop.id) && list.includes(checkpoint.id));
  for (const secret of secrets) {
    assert.ok(!streamed.includes(secret), 'not in the event stream');
    assert.ok(!list.includes(secret), 'not in the list');
    assert.ok(!detail.includes(secret), "not in a checkpoint's detail");
  }
  const own = await (await fetch(`${base}/api/desktops/${desktop.id}`)).json();
  assert.equal(own.vncPassword, desktop.vncPassword, "the desktop's own detail has its control password");
  assert.ok(!JSON.stringify(own).includes(desktop.vncViewPassword!), 'not the view-only one (that is the audience view)');
  const watch = await (await fetch(`${base}/api/desktops/${desktop.id}/watch`)).json();
  assert.equal(watch.desktop.vncViewPassword, desktop.vncViewPassword, 'the audience view has the view-only one');
  assert.ok(!JSON.stringify(watch).includes(desktop.vncPassword));
});

test('behind nginx passing Host, with FREEZEFRAME_ALLOWED_HOSTS: pages, changes and the VNC WebSocket work', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-nginx-'));
  // The setting the README documents, on loopback ports of the test's own.
  await writeFile(path.join(dir, 'nginx.conf'), `
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${proxyPort};
    server_name ${proxyName};
    location / {
      proxy_pass http://127.0.0.1:${port};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`);
  const nginx: ChildProcess = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' });
  t.after(async () => {
    nginx.kill('SIGTERM');
    if (nginx.exitCode === null) await once(nginx, 'exit');
    await rm(dir, { recursive: true, force: true });
  });
  const { request } = await import('node:http');
  const viaProxy = (method: string, url: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: proxyPort, method, path: url, headers: { host: proxyName, ...headers } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  await eventually(async () => assert.equal((await viaProxy('GET', '/api/desktops', {})).status, 200), 10_000);
  const page = await viaProxy('GET', `/desktops/${desktop.id}`, {});
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(desktop.id));
  // A change from the dashboard's own origin under the proxy's name.
  const dumped = await viaProxy('POST', `/api/desktops/${desktop.id}/checkpoint`, { ...json, origin: `http://${proxyName}` }, '{"leaveRunning":true}');
  assert.equal(dumped.status, 201, dumped.text);
  const foreign = await viaProxy('POST', `/api/desktops/${desktop.id}/checkpoint`, { ...json, origin: 'http://attacker.example' }, '{}');
  assert.equal(foreign.status, 403);
  // The VNC WebSocket through the proxy: Xvnc's greeting arrives.
  const greeting = await new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}/api/desktops/${desktop.id}/vnc`, ['binary'], { headers: { host: proxyName, origin: `http://${proxyName}` } });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('message', (data: Buffer) => {
      resolve(data.toString('latin1', 0, 12));
      ws.close();
    });
    ws.on('error', reject);
  });
  assert.equal(greeting, 'RFB 003.008\n');
  // Another name through the same proxy is still refused.
  assert.equal((await viaProxy('GET', '/api/desktops', { host: 'attacker.example' })).status, 403);
});
