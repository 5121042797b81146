// The audience link against the real server bound to 0.0.0.0: a desktop's view token opens its watch page, what that
// page reads (state, events, static files, the VNC WebSocket with the view-only password) and nothing else.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startExposedServer, type ExposedServer } from './support/exposedServer';
import { chromium } from '@playwright/test';
import WebSocket from 'ws';
import { deriveViewToken } from '../server/auth';
import type { DesktopRecord } from '../server/desktops/records';
import { vncAuthResponse } from '../server/vnc/vncAuth';

const port = 3209;
const token = 'presenter-test-token-0123456789';
const base = `http://127.0.0.1:${port}`;
const control = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
let server: ExposedServer | undefined;
let desktop: DesktopRecord;
let viewCookie: string;

before(async () => {
  server = await startExposedServer({ port, token, displays: '100-119' });
  const started = await fetch(`${base}/api/desktops`, { method: 'POST', headers: control, body: JSON.stringify({ geometry: '640x480', apps: ['xclock'] }) });
  assert.equal(started.status, 201, await started.clone().text());
  desktop = (await started.json()).desktop;
});

after(async () => {
  if (desktop) await fetch(`${base}/api/desktops/${desktop.id}/stop`, { method: 'POST', headers: control }).catch(() => {});
  await server?.stop();
});

const get = (url: string, headers: Record<string, string> = {}) => fetch(base + url, { headers: { cookie: viewCookie, ...headers }, redirect: 'manual' });

test('the control pages show the audience link, with the view token', async () => {
  const view = deriveViewToken(token, desktop.id);
  for (const page of [`/desktops/${desktop.id}`, `/desktops/${desktop.id}/present`]) {
    const res = await fetch(base + page, { headers: control });
    assert.equal(res.status, 200, page);
    assert.ok((await res.text()).includes(`/desktops/${desktop.id}/watch?token=${view}`), `${page} holds the audience link`);
  }
});

test('the link trades its token for a view cookie; the watch page and its files load with it', async () => {
  const view = deriveViewToken(token, desktop.id);
  const traded = await fetch(`${base}/desktops/${desktop.id}/watch?token=${view}`, { redirect: 'manual' });
  assert.equal(traded.status, 303);
  assert.equal(traded.headers.get('location'), `/desktops/${desktop.id}/watch`);
  viewCookie = (traded.headers.get('set-cookie') ?? '').split(';')[0];
  assert.match(viewCookie, /^freezeframe_view=/);

  const page = await get(`/desktops/${desktop.id}/watch`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.ok(html.includes(desktop.vncViewPassword!), 'the page has the view-only VNC password');
  assert.ok(!html.includes(desktop.vncPassword), 'and never the control one');
  const files = [...new Set([...html.matchAll(/"(\/_next\/static\/[^"?\\]+)\\?"/g)].map((m) => m[1]))];
  assert.ok(files.length > 3, `static files referenced: ${files.length}`);
  for (const file of files) assert.equal((await get(file)).status, 200, file);

  const read = await get(`/api/desktops/${desktop.id}/watch`);
  assert.equal(read.status, 200);
  const text = await read.text();
  assert.equal(JSON.parse(text).desktop.state, 'running');
  assert.ok(!text.includes(desktop.vncPassword));
});

test('everything else answers 403 to a view token: control pages, reads with secrets, actions, API writes', async () => {
  const id = desktop.id;
  for (const url of ['/', `/desktops/${id}`, `/desktops/${id}/present`, '/environment', '/api/desktops', `/api/desktops/${id}`, '/api/events', '/api/storage']) {
    const res = await get(url);
    assert.equal(res.status, 403, url);
    assert.equal(await res.text(), 'forbidden\n');
  }
  const writes: [string, string, Record<string, string>][] = [
    ['POST', `/api/desktops/${id}/checkpoint`, {}],
    ['POST', `/api/desktops/${id}/stop`, {}],
    ['POST', '/api/desktops', {}],
    // A server action is a POST to a page with Next-Action (the watch page's own address included).
    ['POST', `/desktops/${id}/watch`, { 'next-action': '0'.repeat(42) }],
    ['POST', `/desktops/${id}`, { 'next-action': '0'.repeat(42) }],
  ];
  for (const [method, url, headers] of writes) {
    const res = await fetch(base + url, { method, headers: { cookie: viewCookie, ...headers }, body: '{}' });
    assert.equal(res.status, 403, `${method} ${url}`);
  }
  const bearer = await fetch(`${base}/api/desktops/${id}/checkpoint`, { method: 'POST', headers: { authorization: `Bearer ${deriveViewToken(token, id)}` } });
  assert.equal(bearer.status, 403, 'as a bearer token too');
  const state = await fetch(`${base}/api/desktops/${id}`, { headers: control });
  assert.equal((await state.json()).desktop.state, 'running', 'nothing happened to the desktop');
});

/** Opens the VNC WebSocket with these headers and answers Xvnc's challenge with password; the auth result. */
function vncOver(id: string, headers: Record<string, string>, password: string): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/desktops/${id}/vnc`, ['binary'], { headers });
    let buffer = Buffer.alloc(0);
    let stage = 0;
    ws.on('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
    ws.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      if (stage === 0 && buffer.length >= 12) {
        ws.send(Buffer.from('RFB 003.008\n'));
        buffer = buffer.subarray(12);
        stage = 1;
      }
      if (stage === 1 && buffer.length >= 1 + buffer[0]) {
        assert.ok([...buffer.subarray(1, 1 + buffer[0])].includes(2), 'VncAuth offered');
        ws.send(Buffer.from([2]));
        buffer = buffer.subarray(1 + buffer[0]);
        stage = 2;
      }
      if (stage === 2 && buffer.length >= 16) {
        ws.send(vncAuthResponse(password, buffer.subarray(0, 16)));
        buffer = buffer.subarray(16);
        stage = 3;
      }
      if (stage === 3 && buffer.length >= 4) {
        resolve(buffer.readUInt32BE(0));
        ws.close();
      }
    });
  });
}

test("the VNC WebSocket opens to the view token, for its desktop only, and the view-only password passes Xvnc", async () => {
  const origin = { origin: `http://127.0.0.1:${port}` };
  assert.equal(await vncOver(desktop.id, { cookie: viewCookie, ...origin }, desktop.vncViewPassword!), 0, 'authenticated, view only');
  assert.equal(await vncOver(desktop.id, { cookie: viewCookie, ...origin }, 'wrong123'), 1, 'a wrong password fails');
  assert.equal(await vncOver('d-00000000', { cookie: viewCookie, ...origin }, 'x'), 'HTTP 403', "another desktop's VNC");
  assert.equal(await vncOver(desktop.id, origin, 'x'), 'HTTP 401', 'no token at all');
});

test('the watch events follow a checkpoint and a restore, without the control password', async () => {
  const abort = new AbortController();
  const events = await fetch(`${base}/api/desktops/${desktop.id}/watch/events`, { headers: { cookie: viewCookie }, signal: abort.signal });
  assert.equal(events.status, 200);
  assert.match(events.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = events.body!.getReader();
  let text = '';
  const until = async (pattern: RegExp) => {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before ${pattern}: ${text}`);
      text += Buffer.from(value).toString('utf8');
    }
  };
  await until(/event: hello/);
  const dumped = await fetch(`${base}/api/desktops/${desktop.id}/checkpoint`, { method: 'POST', headers: control, body: '{}' });
  assert.equal(dumped.status, 201);
  const { checkpoint } = await dumped.json();
  await until(/"state":"checkpointed"/);
  assert.match(text, new RegExp(`"frozenAt":"${checkpoint.id}"`));
  const frozen = await get(`/api/desktops/${desktop.id}/watch/thumbnail?checkpoint=${checkpoint.id}`);
  assert.equal(frozen.status, 200, 'the picture of the freeze, for a late viewer');
  assert.equal(frozen.headers.get('content-type'), 'image/png');

  const restored = await fetch(`${base}/api/checkpoints/${checkpoint.id}/restore`, { method: 'POST', headers: control, body: '{}' });
  assert.equal(restored.status, 200);
  await until(/"type":"restored"/);
  assert.ok(!text.includes(desktop.vncPassword), 'no control password in the stream');
  assert.ok(!text.includes('criu'), 'no command lines either');
  abort.abort();
  assert.equal((await get(`/api/desktops/${desktop.id}/watch/thumbnail`)).status, 404, 'running: no picture of a freeze');
});

test('in Chromium the link opens a working audience page: no request refused, the screen live, the freeze followed', async () => {
  const browser = await chromium.launch({ executablePath: process.env.FREEZEFRAME_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('response', (res) => res.status() >= 400 && refused.push(`${res.status()} ${res.url()}`));
    page.on('console', (message) => message.type() === 'error' && refused.push(message.text()));
    await page.goto(`${base}/desktops/${desktop.id}/watch?token=${deriveViewToken(token, desktop.id)}`);
    assert.equal(page.url(), `${base}/desktops/${desktop.id}/watch`, 'the token left the address bar');
    await page.waitForSelector('[data-testid="vnc-viewer"][data-phase="connected"][data-view-only="true"]', { timeout: 20_000 });
    const dumped = await fetch(`${base}/api/desktops/${desktop.id}/checkpoint`, { method: 'POST', headers: control, body: '{}' });
    assert.equal(dumped.status, 201);
    await page.waitForSelector('[data-testid="big-banner"][data-state="checkpointed"] [data-testid="freeze-timer"]', { timeout: 20_000 });
    const restored = await fetch(`${base}/api/checkpoints/${(await dumped.json()).checkpoint.id}/restore`, { method: 'POST', headers: control, body: '{}' });
    assert.equal(restored.status, 200);
    await page.waitForSelector('[data-testid="big-banner"][data-state="running"]', { timeout: 20_000 });
    assert.deepEqual(refused, [], 'nothing the page asked for was refused');
  } finally {
    await browser.close();
  }
});
