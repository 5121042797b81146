// Another web page the user opens, in a real Chromium: served from a second local origin, it tries every request a
// page can make without asking (no-cors fetch, a form post, a frame, a WebSocket); a page of no origin (data:) posts
// a form; and a rebinding DNS name that resolves to this server. Nothing changes, and the frame shows nothing.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from '@playwright/test';
import { expect, test } from './fixtures';

/** The hostile page: its attempts, and a flag when all have been made. */
function hostilePage(base: string, desktopId: string): string {
  const ws = base.replace(/^http/, 'ws');
  return `<!doctype html><html><body>
<iframe id="framed" src="${base}/desktops/${desktopId}" width="800" height="600"></iframe>
<iframe name="sink" id="sink"></iframe>
<form id="stop" method="POST" action="${base}/api/desktops/${desktopId}/stop" target="sink"><input name="a" value="b"></form>
<script>
window.results = {};
const settle = (p) => p.then(() => 'sent', (e) => 'failed: ' + e.message);
(async () => {
  // Simple requests: no CORS preflight, the response is opaque, but the request is made.
  results.start = await settle(fetch('${base}/api/desktops', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ commands: [['xeyes']] }) }));
  results.checkpoint = await settle(fetch('${base}/api/desktops/${desktopId}/checkpoint', { method: 'POST', mode: 'no-cors', body: '{}' }));
  results.stopFetch = await settle(fetch('${base}/api/desktops/${desktopId}/stop', { method: 'POST', mode: 'no-cors' }));
  document.getElementById('stop').submit();
  results.ws = await new Promise((resolve) => {
    const socket = new WebSocket('${ws}/api/desktops/${desktopId}/vnc', ['binary']);
    socket.onopen = () => resolve('open');
    socket.onerror = () => resolve('refused');
  });
  results.done = true;
})();
</script></body></html>`;
}

const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

test('a page of another origin can neither drive nor frame the dashboard', async ({ api, desktop, baseURL }) => {
  const base = new URL(baseURL!).origin;
  const hostile: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(hostilePage(base, desktop.id));
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  const evil = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
  const before = await api.list();
  let browser: Browser | undefined;
  try {
    // A browser of its own: the hostile page's console is full of refusals, which the page fixture would count.
    browser = await chromium.launch({ executablePath: process.env.FREEZEFRAME_CHROMIUM ?? '/usr/bin/chromium', args: chromiumArgs });
    const page = await browser.newPage();
    const attempts: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(base)) attempts.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await page.goto(evil);
    await expect.poll(() => page.evaluate(() => (window as unknown as { results: { done?: boolean } }).results.done), { timeout: 15_000 }).toBe(true);
    const results = await page.evaluate(() => (window as unknown as { results: Record<string, string> }).results);
    expect(results.ws, 'the WebSocket to the bridge is refused').toBe('refused');
    // The requests did leave the browser (the test would prove nothing otherwise)...
    await expect.poll(() => attempts.filter((a) => a.startsWith('POST')).length).toBeGreaterThanOrEqual(4);
    // ...and the frame shows nothing of the dashboard: Chromium refuses to render it (frame-ancestors 'none').
    const framed = page.frameLocator('#framed');
    await expect(framed.locator('body')).not.toContainText('Checkpoint', { timeout: 5_000 });
    const frame = page.frames().find((f) => f !== page.mainFrame() && f.name() !== 'sink');
    expect(frame, 'the dashboard frame').toBeDefined();
    expect(await frame!.evaluate(() => document.querySelectorAll('canvas, button').length).catch(() => 0)).toBe(0);
  } finally {
    await browser?.close();
    await new Promise((resolve) => hostile.close(resolve));
  }
  // Nothing changed: the same desktops in the same states, no checkpoint, nothing started or stopped.
  const after = await api.list();
  const shape = (list: typeof before) => list.map((d) => `${d.id}:${d.state}:${d.checkpoints.length}`).sort();
  expect(shape(after)).toEqual(shape(before));
  expect(after.find((d) => d.id === desktop.id)?.state).toBe('running');
});

test('a page of no origin (a data: page, like a sandboxed frame: Origin null) cannot post the start form', async ({ api, adopt, baseURL, request }) => {
  const base = new URL(baseURL!).origin;
  // The dashboard's own start form (a server action: multipart, which no content-type check stops), posted to it
  // from elsewhere: only the origin check stands between this post and a new desktop.
  const html = await (await request.get('/')).text();
  const form = /<form\b[^>]*>(?:(?!<\/form>)[\s\S])*?Start desktop[\s\S]*?<\/form>/.exec(html)?.[0];
  expect(form, "the dashboard's start form").toMatch(/\$ACTION_/);
  const posting = form!.replace(/^<form\b[^>]*>/, `<form method="POST" enctype="multipart/form-data" action="${base}/">`);
  const before = await api.list();
  let browser: Browser | undefined;
  try {
    // A browser of its own, as above: the refusal is logged in the page's console.
    browser = await chromium.launch({ executablePath: process.env.FREEZEFRAME_CHROMIUM ?? '/usr/bin/chromium', args: chromiumArgs });
    const page = await browser.newPage();
    const posted = page.waitForRequest((r) => r.method() === 'POST');
    await page.goto(`data:text/html,${encodeURIComponent(`${posting}<script>document.forms[0].submit()</script>`)}`);
    const post = await posted;
    const response = await post.response();
    const started = /\/desktops\/(d-[a-z0-9]+)$/.exec(response?.headers().location ?? '')?.[1];
    if (started) adopt(started);
    // Null whatever the dashboard's Referrer-Policy says: the policy of the page that posts decides (here none).
    expect((await post.allHeaders()).origin, 'the post carried no origin').toBe('null');
    expect(response?.status()).toBe(403);
    expect(await response?.text()).toContain('cross_origin');
  } finally {
    await browser?.close();
  }
  expect((await api.list()).length, 'nothing started').toBe(before.length);
});

test('a rebinding DNS name that resolves to this server gets nothing', async ({ api, desktop, baseURL }) => {
  const port = new URL(baseURL!).port;
  const before = await api.list();
  // The attacker's name resolves to 127.0.0.1: its pages are same-origin with whatever answers there.
  const browser = await chromium.launch({
    executablePath: process.env.FREEZEFRAME_CHROMIUM ?? '/usr/bin/chromium',
    args: [...chromiumArgs, '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
  });
  try {
    const page = await browser.newPage();
    const rebound = `http://rebind.test:${port}`;
    for (const path of ['/', '/api/desktops', `/desktops/${desktop.id}`]) {
      const response = await page.goto(rebound + path);
      expect(response?.status(), path).toBe(403);
      await expect(page.locator('body')).toContainText('forbidden_host');
      await expect(page.locator('body')).not.toContainText(desktop.vncPassword);
    }
    // Same-origin for the attacker's page: a JSON POST with its own Origin, which CORS would allow.
    const status = await page.evaluate(
      (id) => fetch(`/api/desktops/${id}/checkpoint`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }).then((r) => r.status),
      desktop.id,
    );
    expect(status).toBe(403);
  } finally {
    await browser.close();
  }
  const after = await api.list();
  expect(after.map((d) => `${d.id}:${d.state}:${d.checkpoints.length}`).sort()).toEqual(before.map((d) => `${d.id}:${d.state}:${d.checkpoints.length}`).sort());
});
