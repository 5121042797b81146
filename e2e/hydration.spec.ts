// Buttons whose work is a script's (components/ActionButton.tsx) are disabled until React has hydrated the page: a
// click that comes before waits for them (Playwright waits for enabled) instead of being lost. Without this, a
// click on Checkpoint in the moment between the HTML and React did nothing at all.
import type { Route } from '@playwright/test';
import { expect, test } from './fixtures';

test('Checkpoint is disabled until the page runs; clicked as soon as it can be, it checkpoints', async ({ page, desktop, api }) => {
  // The page's scripts are held: the server's HTML is all there is.
  const held: Route[] = [];
  // Scripts asked for after the release (chunks loaded later) go through at once.
  let holding = true;
  await page.route(/\/_next\/static\/.*\.js$/, (route) => (holding ? void held.push(route) : void route.continue()));
  await page.goto(`/desktops/${desktop.id}`, { waitUntil: 'domcontentloaded' });
  const checkpoint = page.getByTestId('checkpoint-button');
  await expect(checkpoint, 'in the HTML before any script').toBeVisible();
  await expect(checkpoint, 'no click can be lost: nothing would handle it yet').toBeDisabled();
  expect(held.length, 'scripts were held, so React had not hydrated').toBeGreaterThan(0);
  // The click is asked for now; it waits for the button, which the scripts let go below enable.
  const clicked = checkpoint.click();
  holding = false;
  for (const route of held.splice(0)) await route.continue();
  await page.unroute(/\/_next\/static\/.*\.js$/);
  await clicked;
  await expect.poll(async () => (await api.desktop(desktop.id)).desktop.state, { timeout: 30_000 }).toBe('checkpointed');
  // And back: the page is whole, its viewer connected to the restored desktop.
  await page.getByTestId('restore-button').click();
  await expect(page.getByTestId('vnc-viewer')).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });
  await expect.poll(async () => (await api.desktop(desktop.id)).desktop.state, { timeout: 30_000 }).toBe('running');
});
