// The start form posted by the browser itself: it is a server action, which the browser submits natively (the
// progressive enhancement of React's <form action>) when no script runs, or when the user clicks before React has
// hydrated (slow machine, slow network: a CI run of e2e/fleetTls met it). That post must pass the same-origin check:
// it carries the dashboard's own Origin (Referrer-Policy: same-origin, see server/securityHeaders.ts), not "null".
import type { Page, Route } from '@playwright/test';
import { expect, test } from './fixtures';

/**
 * Clicks Start desktop and checks the POST it made: one the browser made by itself (a navigation, no fetch with
 * React's Next-Action header), carrying the dashboard's own Origin, and not refused. A desktop it started (the
 * redirect to its page) is handed to `adopt` first, so the fixture stops it whatever fails after; returns its id.
 */
async function submitNatively(page: Page, origin: string, adopt: (id: string) => void): Promise<string | undefined> {
  const posted = page.waitForRequest((request) => request.method() === 'POST');
  await page.getByRole('button', { name: 'Start desktop' }).click();
  const post = await posted;
  const response = await post.response();
  const started = /\/desktops\/(d-[a-z0-9]+)$/.exec(response?.headers().location ?? '')?.[1];
  if (started) adopt(started);
  expect(post.isNavigationRequest(), 'a form submission the browser made, no fetch of a script').toBe(true);
  const headers = await post.allHeaders();
  expect(headers['next-action'], 'not posted by React').toBeUndefined();
  expect(headers['content-type']).toMatch(/^multipart\/form-data/);
  expect(response?.status(), `served, not refused: ${await response?.text().catch(() => '')}`).toBeLessThan(400);
  expect(headers.origin, "it carries the dashboard's own origin").toBe(origin);
  return started;
}

test.describe('without scripts', () => {
  test.use({ javaScriptEnabled: false });

  test('the start form starts a desktop and opens its page', async ({ page, adopt, api, baseURL }) => {
    await page.goto('/');
    await page.getByLabel('Width in pixels').fill('800');
    await page.getByLabel('Height in pixels').fill('600');
    await page.getByLabel('Terminal (xterm)').uncheck();
    const id = await submitNatively(page, new URL(baseURL!).origin, adopt);
    expect(id, 'redirected to the page of the desktop it started').toMatch(/^d-[a-z0-9]+$/);
    await page.waitForURL(`/desktops/${id}`);
    await expect(page.locator('body'), 'the page, not a refusal').not.toContainText('cross_origin');
    const started = (await api.list()).find((d) => d.id === id)!;
    expect(started).toMatchObject({ geometry: '800x600', apps: ['xclock'], state: 'running' });
  });

  test('a command the start form refuses comes back with its reason', async ({ page, adopt, api, baseURL }) => {
    const before = (await api.list()).length;
    await page.goto('/');
    await page.getByLabel('Terminal (xterm)').uncheck();
    await page.getByLabel('Clock with a second hand (xclock)').uncheck();
    await page.getByLabel('Custom command').fill('xeyes;reboot');
    expect(await submitNatively(page, new URL(baseURL!).origin, adopt), 'no redirect to a desktop').toBeUndefined();
    await expect(page.getByRole('alert').filter({ hasText: 'commands' })).toContainText('is not a program name or path');
    expect((await api.list()).length, 'nothing started').toBe(before);
  });
});

test('a click before React has hydrated starts the desktop all the same', async ({ page, adopt, baseURL }) => {
  // The page's script files are held until the form has been posted: the click lands before any of React runs, as
  // it did in CI. (Awaiting only the HTML: a page's load waits for its scripts.)
  const held: Route[] = [];
  await page.route(/\/_next\/static\/.*\.js$/, (route) => void held.push(route));
  await page.goto('/', { waitUntil: 'domcontentloaded' });
  await page.getByLabel('Terminal (xterm)').uncheck();
  const id = await submitNatively(page, new URL(baseURL!).origin, adopt);
  expect(held.length, 'scripts were held, so React had not hydrated').toBeGreaterThan(0);
  await page.unroute(/\/_next\/static\/.*\.js$/);
  for (const route of held) await route.continue().catch(() => {}); // the page that asked for them is gone
  expect(id, 'redirected to the page of the desktop it started').toMatch(/^d-[a-z0-9]+$/);
  await page.waitForURL(`/desktops/${id}`);
  await expect(page.getByTestId('vnc-viewer'), 'the desktop page, live once its scripts run').toHaveAttribute('data-phase', 'connected');
});
