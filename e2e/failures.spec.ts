// Failures shown on the page: a restore that cannot work says why, and the rest of the app keeps working.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from './fixtures';

test('restoring a checkpoint whose images were deleted shows the error, and stop and the dashboard still work', async ({ desktopPage, desktop, api, stateDir }) => {
  const { page } = desktopPage;
  await desktopPage.open();
  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  const checkpoint = (await api.desktop(desktop.id)).desktop.lastCheckpoint!;
  await rm(path.join(stateDir, 'checkpoints', checkpoint, 'images'), { recursive: true });

  await desktopPage.restoreButton.click();
  await expect(desktopPage.errorPanel).toBeVisible();
  await expect(desktopPage.errorPanel).toContainText('Restore failed');
  await expect(desktopPage.errorPanel).toContainText(`checkpoint ${checkpoint} has no images`);
  await expect(desktopPage.errorPanel).toHaveAttribute('data-code', 'images_missing');
  // Nothing else changed: the desktop is still frozen, the page still works.
  await desktopPage.expectState('checkpointed');

  await desktopPage.stopButton.click();
  await desktopPage.expectState('stopped');
  expect((await api.desktop(desktop.id)).desktop.state).toBe('stopped');

  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Desktops' })).toBeVisible();
  await page.getByText(/Stopped desktops \(\d+\)/).click();
  await expect(page.locator(`tr[data-desktop="${desktop.id}"]`).getByTestId('state-badge')).toHaveAttribute('data-state', 'stopped');
});

test("a restore that criu itself fails shows CRIU's Error lines and its log", async ({ desktopPage, desktop, api, stateDir }) => {
  await desktopPage.open();
  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  const checkpoint = (await api.desktop(desktop.id)).desktop.lastCheckpoint!;
  // Damaged rather than missing: inventory.img stays, so criu runs and fails on the memory it cannot read.
  const images = path.join(stateDir, 'checkpoints', checkpoint, 'images');
  const pages = (await readdir(images)).filter((name) => /^pages-\d+\.img$/.test(name));
  expect(pages.length).toBeGreaterThan(0);
  for (const name of pages) await rm(path.join(images, name));

  await desktopPage.restoreButton.click();
  await expect(desktopPage.errorPanel).toBeVisible();
  await expect(desktopPage.errorPanel).toHaveAttribute('data-code', 'criu');
  await expect(desktopPage.errorPanel).toContainText('criu restore exited');
  await expect(desktopPage.errorPanel.locator('pre')).toContainText('Error (');
  await expect(desktopPage.errorPanel).toContainText(`${checkpoint}/restore-1.log`);
  // The log panel shows the failed restore's last lines, and the exact command that ran.
  await expect(desktopPage.criuLog).toContainText('Restoring FAILED');
  await expect(desktopPage.criuCommand).toContainText('criu restore');
  await desktopPage.expectState('checkpointed');

  await desktopPage.stopButton.click();
  await desktopPage.expectState('stopped');
});
