// Snapshot (criu dump --leave-running): the desktop keeps running and its viewer connected, and the snapshot restores.
import { expect, test } from './fixtures';
import { FROZEN_SAMPLE_MS, LIVE_MOTION_MS } from './support/timing';

test('a snapshot keeps the desktop running, and restores over it after a confirm', async ({ desktopPage, api }) => {
  await desktopPage.open();
  await desktopPage.snapshotButton.click();
  await expect(desktopPage.cards).toHaveCount(1, { timeout: 30_000 });
  await expect(desktopPage.snapshotButton).toBeEnabled({ timeout: 30_000 });
  const snapshot = (await api.desktop(desktopPage.desktopId)).checkpoints[0];
  expect(snapshot).toMatchObject({ state: 'complete', leaveRunning: true });
  await expect(desktopPage.cards.first()).toHaveAttribute('data-mode', 'snapshot');
  await expect(desktopPage.cards.first()).toContainText('Snapshot');

  // Still running: xclock's second hand keeps moving, over the very same VNC connection.
  await desktopPage.expectState('running');
  expect(await desktopPage.distinctPictures(FROZEN_SAMPLE_MS), 'pictures over 3 s after the snapshot').toBeGreaterThan(1);
  await desktopPage.expectUnbrokenConnection();

  // Cancel first: nothing happens, the same tree runs on.
  const pidBefore = (await api.desktop(desktopPage.desktopId)).desktop.pid;
  await desktopPage.card(snapshot.id).getByRole('button', { name: `Restore ${snapshot.id}` }).click();
  await desktopPage.confirmDialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(desktopPage.confirmDialog).toBeHidden();
  expect((await api.desktop(desktopPage.desktopId)).desktop).toMatchObject({ state: 'running', pid: pidBefore });
  await desktopPage.expectUnbrokenConnection();

  await desktopPage.restoreFromTimeline(snapshot.id, { confirm: true });
  await expect.poll(async () => (await api.desktop(desktopPage.desktopId)).checkpoints[0].restores.length, { timeout: 30_000 }).toBe(1);
  await desktopPage.expectState('running');
  const after = (await api.desktop(desktopPage.desktopId)).desktop;
  expect(after.lastCheckpoint).toBe(snapshot.id);
  expect(after.pid, 'a new tree, restored from the snapshot').not.toBe(pidBefore);
  await expect(desktopPage.viewer).toHaveAttribute('data-phase', 'connected', { timeout: 15_000 });
  await desktopPage.expectPictureChange(await desktopPage.hash(), LIVE_MOTION_MS, 'the restored desktop moves');
  await expect(desktopPage.card(snapshot.id).getByTestId('restore-count')).toContainText('1');
});
