// Storage on the pages: the retention policy set on the desktop page and applied after each snapshot, a pinned
// checkpoint kept; a stopped desktop removed from the dashboard, after asking, with the space it freed shown.
import { expect, test } from './fixtures';

test('the retention policy set on the page keeps the last 2 snapshots and the pinned one', async ({ desktopPage, desktop, api }) => {
  test.setTimeout(90_000);
  await desktopPage.open();
  const page = desktopPage.page;
  const retention = page.getByTestId('retention');
  await expect(retention.getByTestId('retention-policy')).toHaveText('keep every checkpoint');
  await retention.getByLabel('Keep the last N checkpoints').fill('2');
  await retention.getByRole('button', { name: 'Apply' }).click();
  await expect(retention.getByTestId('retention-outcome')).toHaveText('Nothing to remove');
  await expect(retention.getByTestId('retention-policy')).toHaveText('keep the last 2 (pinned ones always)');

  const snapshot = async (count: number) => {
    await desktopPage.snapshotButton.click();
    await expect(desktopPage.cards).toHaveCount(count);
    await expect(desktopPage.snapshotButton).toBeEnabled();
  };
  await snapshot(1);
  const first = await desktopPage.cards.first().getAttribute('data-checkpoint');
  await desktopPage.cards.first().getByRole('button', { name: `Pin ${first}` }).click();
  await expect(desktopPage.cards.first()).toHaveAttribute('data-pinned', 'true');
  await snapshot(2);
  await snapshot(3);
  // The fourth: the policy removes the oldest unpinned one after it, and the page hears of it.
  await desktopPage.snapshotButton.click();
  await expect.poll(async () => (await api.desktop(desktop.id)).checkpoints.length).toBe(3);
  const kept = (await api.desktop(desktop.id)).checkpoints;
  expect(kept[0].id).toBe(first);
  expect(kept[0].pinned).toBe(true);
  await expect(desktopPage.cards).toHaveCount(3);
  await expect(page.locator(`[data-checkpoint="${first}"]`)).toHaveAttribute('data-pinned', 'true');
  // The newest stays whole (its older ones share their pages with a base: test/storage.test.ts).
  expect(kept[2].base).toBeUndefined();
});

test('a stopped desktop is removed from the dashboard after asking; its row goes and the freed space is shown', async ({ page, api }) => {
  test.setTimeout(90_000);
  const desktop = await api.start({ geometry: '640x480', apps: ['xclock'] });
  let removed = false;
  try {
    await api.checkpoint(desktop.id, { leaveRunning: true });
    await api.stop(desktop.id);
    await page.goto('/');
    await page.getByTestId('stopped-desktops').locator('summary').click();
    const row = page.locator(`tr[data-desktop="${desktop.id}"]`);
    await row.getByRole('button', { name: `Remove ${desktop.id}` }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog).toContainText(`Remove ${desktop.id} and its checkpoints?`);
    // Asked first: cancelling removes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(row).toBeVisible();
    await row.getByRole('button', { name: `Remove ${desktop.id}` }).click();
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await expect(row).toBeHidden();
    const status = page.getByTestId('desktop-removed');
    await expect(status).toContainText(`Removed ${desktop.id} and its 1 checkpoint:`);
    expect(Number(await status.getAttribute('data-bytes'))).toBeGreaterThan(1024 ** 2);
    removed = true;
    expect((await api.raw('GET', `/api/desktops/${desktop.id}`)).status()).toBe(404);
    expect((await api.list()).some((d) => d.id === desktop.id)).toBe(false);
  } finally {
    if (!removed) await api.stop(desktop.id);
  }
});

test('DELETE /api/desktops/:id refuses a running desktop; PUT retention and pin check their input', async ({ desktop, api }) => {
  const running = await api.raw('DELETE', `/api/desktops/${desktop.id}`);
  expect(running.status()).toBe(409);
  expect((await running.json()).error.code).toBe('bad_state');
  const bad = await api.raw('PUT', `/api/desktops/${desktop.id}/retention`, { keepLast: 0 });
  expect(bad.status()).toBe(400);
  expect((await bad.json()).error.code).toBe('invalid');
  const checkpoint = await api.checkpoint(desktop.id, { leaveRunning: true });
  expect((await api.pin(checkpoint.id, true)).pinned).toBe(true);
  expect((await api.setRetention(desktop.id, { keepLast: 1 })).removed).toEqual([]);
  expect((await api.raw('PUT', `/api/checkpoints/${checkpoint.id}/pin`, { pinned: 'yes' })).status()).toBe(400);
});
