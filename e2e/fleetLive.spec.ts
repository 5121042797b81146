// A desktop on host 2, its page on host 1, in Chromium (issue #14): host 1 relays host 2's events of it, so what is
// done to it on host 2 (a snapshot, a freeze, a restore through host 2's own API) shows on host 1's page without a
// reload, like a local desktop's; its audience link of host 1 follows the freeze too; Clone on host 1's timeline
// clones it on host 2 and opens the clone's page; host 2 killed: the page says its events are stale. Two test hosts
// and a real etcd as e2e/fleet.spec.ts, on ports of their own (etcd 3642).
import { canvasColours, canvasHash, installCanvasProbe } from './support/canvas';
import { expect, test } from './support/fleet';
import type { TestHost } from '../test/support/testHosts';

test.describe.configure({ mode: 'serial', timeout: 180_000 });

const port = 3641;
test.use({
  fleetOptions: {
    subnet: 190 + Math.floor(Math.random() * 20), port, etcdPort: 3642, size: 2, started: 2, id: (n) => `h${n}`,
    displays: (n) => `${174 + n * 2}-${175 + n * 2}`,
  },
});

/** A call to a host's own API with its token (what an operator or a script on that host does). */
async function api(host: TestHost, urlPath: string, json?: unknown) {
  const response = await fetch(`${host.url}${urlPath}`, {
    method: json === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${host.token}`, ...(json === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  expect(response.ok, `${urlPath}: ${response.status} ${text}`).toBe(true);
  return JSON.parse(text);
}

test('host 2\'s desktop on host 1\'s page: a snapshot, a freeze and a restore done on host 2 show without a reload; the audience link follows; Clone works; host 2 gone: stale', async ({ page, browser, testFleet }) => {
  const [h1, h2] = testFleet.hosts;
  const started = await api(h2, '/api/desktops', { apps: ['xclock'], host: 'h2' });
  const id: string = started.desktop.id;
  // Host 1 reads the catalog once a second: its page of the desktop reads it from host 2 once it lists it.
  const hostOf = async () => {
    const r = await fetch(`${h1.url}/api/desktops/${id}`, { headers: { Authorization: `Bearer ${h1.token}` } });
    return r.ok ? ((await r.json()) as { host?: string }).host : `answered ${r.status}`;
  };
  await expect.poll(hostOf, { message: 'h1 reads the desktop from h2', timeout: 15_000 }).toBe('h2');

  await installCanvasProbe(page);
  let loads = 0;
  page.on('load', () => loads++);
  await page.goto(`${h1.url}/desktops/${id}?token=${h1.token}`);
  expect(new URL(page.url()).host, 'the page is host 1\'s').toBe(`${h1.address}:${port}`);
  const loaded = loads;
  await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  const liveEvents = page.getByTestId('live-events');
  await expect(liveEvents).toHaveAttribute('data-relayed-from', 'h2', { timeout: 10_000 });
  await expect(liveEvents).toHaveAttribute('data-live', 'true');
  const viewer = page.getByTestId('vnc-viewer');
  await expect(viewer).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });
  await expect.poll(() => canvasColours(page), { message: 'the desktop picture appears' }).toBeGreaterThan(4);
  const badge = page.locator('header').getByTestId('state-badge');
  await expect(badge).toHaveAttribute('data-state', 'running');

  // The audience link host 1 shows for it, opened by someone without host 1's token (a context of its own).
  const link = await page.getByTestId('audience-link').getByRole('textbox').inputValue();
  expect(new URL(link).host).toBe(`${h1.address}:${port}`);
  const audience = await browser.newContext();
  const watcher = await audience.newPage();
  await watcher.goto(link);
  const banner = watcher.getByTestId('big-banner');
  await expect(banner).toHaveAttribute('data-state', 'running', { timeout: 15_000 });

  // A snapshot through host 2's API: on host 1's timeline.
  const snap = await api(h2, `/api/desktops/${id}/checkpoint`, { leaveRunning: true });
  const card = page.locator(`[data-testid="checkpoint-card"][data-checkpoint="${snap.checkpoint.id}"]`);
  await expect(card, 'the snapshot taken on h2 shows on h1\'s timeline').toBeVisible({ timeout: 10_000 });
  await expect(card).toHaveAttribute('data-state', 'complete');

  // A freeze through host 2's API: the state on host 1's page and on the audience's.
  const freeze = await api(h2, `/api/desktops/${id}/checkpoint`, {});
  await expect(badge, 'frozen on h1\'s page').toHaveAttribute('data-state', 'checkpointed', { timeout: 10_000 });
  await expect(page.locator(`[data-testid="checkpoint-card"][data-checkpoint="${freeze.checkpoint.id}"]`)).toBeVisible();
  await expect(banner, 'frozen on the audience\'s page').toHaveAttribute('data-state', 'checkpointed', { timeout: 10_000 });
  await api(h2, `/api/checkpoints/${freeze.checkpoint.id}/restore`, {});
  await expect(badge, 'running again on h1\'s page').toHaveAttribute('data-state', 'running', { timeout: 10_000 });
  await expect(banner).toHaveAttribute('data-state', 'running', { timeout: 10_000 });
  const before = await canvasHash(page);
  await expect.poll(() => canvasHash(page), { message: 'the picture moves again', timeout: 15_000, intervals: [200] }).not.toBe(before);
  expect(loads, 'no reload').toBe(loaded);
  expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), 'the same document').toBe(true);
  await audience.close();

  // Clone on host 1's timeline: cloned on host 2 (its images are there), the clone's page opens on host 1.
  await card.getByRole('button', { name: `Clone ${snap.checkpoint.id}` }).click();
  await page.waitForURL((url) => /\/desktops\/d-[0-9a-f]+$/.test(url.pathname) && !url.pathname.endsWith(id), { timeout: 60_000 });
  const clone = new URL(page.url()).pathname.split('/').pop()!;
  expect(new URL(page.url()).host).toBe(`${h1.address}:${port}`);
  expect((await api(h2, `/api/desktops/${clone}`)).desktop.state, 'the clone runs on h2').toBe('running');
  await expect(page.getByTestId('live-events')).toHaveAttribute('data-relayed-from', 'h2', { timeout: 10_000 });
  await expect(page.getByTestId('vnc-viewer')).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });

  // The clone removed on host 2 (its home is an overlay mount: a host killed with it mounted leaves its folder).
  await api(h1, `/api/desktops/${clone}/stop`, {});
  const removed = await fetch(`${h2.url}/api/desktops/${clone}`, { method: 'DELETE', headers: { Authorization: `Bearer ${h2.token}` } });
  expect(removed.status, await removed.text()).toBe(200);

  // Host 2 dies: the desktop's page on host 1 says its events are stale (not a live page that shows nothing new).
  await page.goto(`${h1.url}/desktops/${id}`);
  await expect(page.getByTestId('live-events')).toHaveAttribute('data-relayed-from', 'h2', { timeout: 10_000 });
  await expect(page.getByTestId('live-events')).toHaveAttribute('data-live', 'true');
  await h2.stop('SIGKILL');
  await expect(page.getByTestId('live-events')).toHaveAttribute('data-live', 'false', { timeout: 15_000 });
  await expect(page.getByTestId('live-events')).toContainText('stale');
});
