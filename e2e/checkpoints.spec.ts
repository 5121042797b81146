// The timeline: an older checkpoint is restored from its card, and deleting one says how much space it freed.
import { expect, test } from './fixtures';
import { LIVE_MOTION_MS } from './support/timing';

test('an older checkpoint is restored from the timeline, and a checkpoint can be deleted', async ({ desktopPage, api }) => {
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

  // Newest first, each with its picture; the chart has a dump bar for each.
  await expect(desktopPage.cards).toHaveCount(2);
  await expect(desktopPage.cards.first()).toHaveAttribute('data-checkpoint', b);
  await expect(desktopPage.card(a).locator('img')).toHaveJSProperty('complete', true);
  expect(await desktopPage.card(a).locator('img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
  await expect(page.getByTestId('chart-dump')).toHaveAttribute('data-bars', '2');

  // A frozen desktop: no question asked.
  await desktopPage.restoreFromTimeline(a, { confirm: false });
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
});

test('deleting a checkpoint shows the space freed, and the disk figure drops', async ({ desktopPage, desktop, api }) => {
  const { page } = desktopPage;
  const checkpoint = await api.checkpoint(desktop.id);
  await desktopPage.page.goto(`/desktops/${desktop.id}`);
  const storage = page.getByTestId('storage');
  const usedBefore = Number(await storage.getAttribute('data-used'));
  expect(usedBefore).toBeGreaterThanOrEqual(checkpoint.imageBytes!);
  expect(Number(await storage.getAttribute('data-free'))).toBeGreaterThan(0);

  await desktopPage.card(checkpoint.id).getByRole('button', { name: `Delete ${checkpoint.id}` }).click();
  await desktopPage.card(checkpoint.id).getByRole('button', { name: 'Delete', exact: true }).click();
  const freed = page.getByTestId('space-freed');
  await expect(freed).toContainText(`Deleted ${checkpoint.id}`);
  await expect(freed).toContainText('MiB freed');
  // The folder holds the images plus the logs and thumbnail: at least the images' size is freed.
  expect(Number(await freed.getAttribute('data-bytes'))).toBeGreaterThanOrEqual(checkpoint.imageBytes!);
  await expect(desktopPage.cards).toHaveCount(0);
  // The figure counts what checkpoints take on disk (storedBytes: images, logs, thumbnail).
  await expect.poll(async () => Number(await storage.getAttribute('data-used'))).toBe(usedBefore - (checkpoint.storedBytes ?? checkpoint.imageBytes!));
  expect((await api.raw('GET', `/api/checkpoints/${checkpoint.id}`)).status()).toBe(404);
  expect((await api.raw('DELETE', `/api/checkpoints/${checkpoint.id}`)).status()).toBe(404);
});
