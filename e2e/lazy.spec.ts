// The desktop page's Restore memory choice: a lazy restore from the page (criu restore --lazy-pages with a
// criu lazy-pages daemon), the picture moving again, "memory arriving…" gone once every page is sent.
import { expect, test } from './fixtures';
import { RESTORE_TO_MOTION_MS } from './support/timing';

test('Restore memory "lazy": criu lazy-pages from the page, the picture moves, every page sent', async ({ desktopPage, desktop, api }) => {
  const { page } = desktopPage;
  await desktopPage.open();
  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  const frozen = await desktopPage.hash();
  await page.getByTestId('restore-memory').selectOption('lazy');
  await desktopPage.restoreButton.click();
  await desktopPage.expectPictureChange(frozen, RESTORE_TO_MOTION_MS, 'the picture moves after a lazy restore');
  await desktopPage.expectState('running');
  await expect(desktopPage.criuCommand).toContainText('--lazy-pages');
  // The daemon exits once the last page is sent; the record is settled and the page says nothing more.
  await expect.poll(async () => (await api.desktop(desktop.id)).desktop.fetching, { timeout: 60_000 }).toBeUndefined();
  await expect(page.getByTestId('pages-arriving')).toHaveCount(0);
  const { checkpoints } = await api.desktop(desktop.id);
  const lazy = checkpoints.at(-1)!.restores.at(-1)!.lazy!;
  expect(lazy.ok, JSON.stringify(lazy)).toBe(true);
  expect(lazy.copiedPages).toBeGreaterThan(1000);

  // "all of it first": the next restore from the page is eager.
  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  await page.getByTestId('restore-memory').selectOption('eager');
  await desktopPage.restoreButton.click();
  await desktopPage.expectState('running');
  await expect(desktopPage.criuCommand).toContainText('criu restore');
  await expect(desktopPage.criuCommand).not.toContainText('--lazy-pages');
});
