// The checkpoint table: an older checkpoint can be chosen for Restore, and a checkpoint deleted.
import { expect, test } from './fixtures';
import { LIVE_MOTION_MS } from './support/timing';

test('an older checkpoint chosen in the table is restored, and a checkpoint can be deleted', async ({ desktopPage, api }) => {
  const { page } = desktopPage;
  await desktopPage.open();
  // Checkpoint A, back to running, then checkpoint B: the desktop is frozen at B.
  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  const a = (await api.desktop(desktopPage.desktopId)).desktop.lastCheckpoint!;
  await desktopPage.restoreButton.click();
  await desktopPage.expectState('running');
  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  const b = (await api.desktop(desktopPage.desktopId)).desktop.lastCheckpoint!;
  expect(b).not.toBe(a);

  const rows = page.getByTestId('checkpoints').locator('tbody tr');
  await expect(rows).toHaveCount(2);
  // The newest is chosen by default; choose A instead.
  await expect(page.getByLabel(`Restore ${b}`)).toBeChecked();
  await page.getByLabel(`Restore ${a}`).check();
  await desktopPage.restoreButton.click();
  await desktopPage.expectState('running');
  expect((await api.desktop(desktopPage.desktopId)).desktop.lastCheckpoint).toBe(a);
  // A's viewer connections are from another time than the one the bridge holds: they are restored closed (4001)
  // and the viewer connects again by itself.
  await expect(desktopPage.viewer).toHaveAttribute('data-last-close', '4001');
  await expect(page.getByTestId('viewer-notice')).toContainText('Reconnected');
  expect(desktopPage.vncSockets.at(-2)!.isClosed(), 'the first WebSocket was closed').toBe(true);
  expect(desktopPage.vncSockets.at(-1)!.isClosed(), 'the new WebSocket is open').toBe(false);
  await expect(desktopPage.viewer).toHaveAttribute('data-phase', 'connected');
  await desktopPage.expectPictureChange(await desktopPage.hash(), LIVE_MOTION_MS, 'the desktop restored from A moves');

  await page.getByLabel(`Delete ${b}`).click();
  await page.getByTestId('checkpoints').getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(rows).toHaveCount(1);
  expect((await api.raw('GET', `/api/checkpoints/${b}`)).status()).toBe(404);
});
