// The dashboard and the environment page: start a desktop from the form, stop it from its row; criu's verdicts, the signing key.
import { expect, test } from './fixtures';
import { installCanvasProbe } from './support/canvas';
import { DesktopPage } from './support/desktopPage';

test('a desktop started from the dashboard opens live, and stops from its row', async ({ page, adopt, api }) => {
  await installCanvasProbe(page);
  await page.goto('/');
  await page.getByLabel('Width in pixels').fill('800');
  await page.getByLabel('Height in pixels').fill('600');
  await page.getByLabel('Terminal (xterm)').uncheck();
  await page.getByRole('button', { name: 'Start desktop' }).click();
  await page.waitForURL(/\/desktops\/d-[a-z0-9]+$/);
  const id = page.url().split('/').at(-1)!;
  adopt(id);

  const desktopPage = new DesktopPage(page, id);
  await expect(desktopPage.viewer).toHaveAttribute('data-phase', 'connected');
  await desktopPage.expectState('running');
  const started = (await api.list()).find((d) => d.id === id)!;
  expect(started).toMatchObject({ geometry: '800x600', apps: ['xclock'], state: 'running' });

  await page.goto('/');
  const row = page.locator(`tr[data-desktop="${id}"]`);
  await expect(row.getByTestId('state-badge')).toHaveAttribute('data-state', 'running');
  await row.getByRole('button', { name: 'Stop' }).click();
  // A stopped desktop moves to the folded "Stopped desktops" list.
  await expect(row).toBeHidden();
  await expect.poll(async () => (await api.list()).find((d) => d.id === id)?.state).toBe('stopped');
});

test('a command of your own from the start form runs as argv; a bad one is refused with its reason', async ({ page, adopt, api }) => {
  await page.goto('/');
  await page.getByLabel('Width in pixels').fill('640');
  await page.getByLabel('Height in pixels').fill('480');
  await page.getByLabel('Terminal (xterm)').uncheck();
  await page.getByLabel('Clock with a second hand (xclock)').uncheck();
  await page.getByLabel('Custom command').fill('xeyes;reboot');
  await page.getByRole('button', { name: 'Start desktop' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'commands' })).toContainText('is not a program name or path');
  await expect(page).toHaveURL('/');

  // React resets a form after its action: the choices are made again.
  await page.getByLabel('Terminal (xterm)').uncheck();
  await page.getByLabel('Clock with a second hand (xclock)').uncheck();
  await page.getByLabel('Custom command').fill('xeyes  -geometry 150x100+5+5');
  await page.getByRole('button', { name: 'Start desktop' }).click();
  await page.waitForURL(/\/desktops\/d-[a-z0-9]+$/);
  const id = page.url().split('/').at(-1)!;
  adopt(id);
  const started = (await api.list()).find((d) => d.id === id)!;
  expect(started).toMatchObject({ apps: ['xeyes -geometry 150x100+5+5'], state: 'running' });
  // The page's viewer connects; the test ends (and stops the desktop) only then.
  await expect(new DesktopPage(page, id).viewer).toHaveAttribute('data-phase', 'connected');
});

test('the start form refuses a geometry out of bounds', async ({ page }) => {
  await page.goto('/');
  const width = page.getByLabel('Width in pixels');
  await width.fill('100');
  await page.getByRole('button', { name: 'Start desktop' }).click();
  // The browser's own check (min=320) stops it before the server is asked; the server checks again (see api.spec).
  expect(await width.evaluate((input: HTMLInputElement) => input.validity.rangeUnderflow)).toBe(true);
  await expect(page).toHaveURL('/');
});

test('the environment page shows criu, its features, Xvnc and the archive signing key', async ({ page }) => {
  await page.goto('/environment');
  await expect(page.getByTestId('criu-version')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('criu-version')).toContainText(/\d+\.\d+/);
  await expect(page.getByTestId('criu-check')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('criu-check')).toContainText('Looks good');
  const features = page.getByTestId('criu-features').locator('tr');
  await expect(features).toHaveCount(5);
  for (const name of ['uffd', 'uffd-noncoop', 'network_lock_nftables', 'tcp_half_closed', 'mem_dirty_track']) {
    await expect(page.locator(`tr[data-feature="${name}"]`)).toHaveAttribute('data-supported', /^(yes|no)$/);
  }
  await expect(page.getByTestId('xvnc-version')).toContainText('TigerVNC');
  // The public key line, as `freezeframe key` prints it (the test server's own key folder: see playwright.config.ts).
  await expect(page.getByTestId('signing-key')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('signing-key')).toContainText(/ed25519:[A-Za-z0-9+/]{43}=/);
});
