// One desktop through a checkpoint/restore cycle on its page: live picture, frozen picture, the same picture moving
// again over the same VNC connection.
import { expect, test } from './fixtures';
import { clickToChangeMs } from './support/canvas';
import { isAlive, processTree } from './support/processes';
import { FROZEN_SAMPLE_MS, LIVE_MOTION_MS, RESTORE_TO_MOTION_MS } from './support/timing';

test('the desktop page shows a live desktop whose picture moves', async ({ desktopPage }) => {
  await desktopPage.open();
  await expect(desktopPage.banner).toHaveText('Running');
  const first = await desktopPage.hash();
  await desktopPage.expectPictureChange(first, LIVE_MOTION_MS, "the xclock's second hand moves the picture");
});

test("Checkpoint freezes the picture and the desktop's processes are gone", async ({ desktopPage, desktop, api }) => {
  await desktopPage.open();
  const tree = processTree(desktop.pid!);
  // desktop.sh, Xvnc, the window manager, xclock at least.
  expect(tree.length, 'processes in the desktop before the dump').toBeGreaterThanOrEqual(4);

  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  await expect(desktopPage.banner).toContainText(/Frozen for \d+\.\d s/);
  expect(await desktopPage.distinctPictures(FROZEN_SAMPLE_MS), `pictures over ${FROZEN_SAMPLE_MS} ms while frozen`).toBe(1);

  const { desktop: record } = await api.desktop(desktop.id);
  expect(record.state).toBe('checkpointed');
  expect(record.pid).toBeUndefined();
  expect(tree.filter(isAlive), 'processes of the desktop still alive').toEqual([]);

  // What criu did, as the page shows it.
  await expect(desktopPage.criuCommand).toContainText('criu dump');
  await expect(desktopPage.criuCommand).toContainText(`--tree ${desktop.pid}`);
  await expect(desktopPage.criuLog).toContainText('Dumping finished successfully');
  await expect(desktopPage.page.getByTestId('last-dump')).toContainText(/\d\.\d\d s/);
  // The freeze did not touch the viewer's connection.
  await desktopPage.expectUnbrokenConnection();
});

test('Restore brings the desktop back over the same VNC connection', async ({ desktopPage, desktop, api }, testInfo) => {
  const { page } = desktopPage;
  await desktopPage.open();
  await desktopPage.expectPictureChange(await desktopPage.hash(), LIVE_MOTION_MS, 'the picture moves before the dump');
  await testInfo.attach('1-before-dump', { body: await desktopPage.screenshot(), contentType: 'image/png' });

  await desktopPage.checkpointButton.click();
  await desktopPage.expectState('checkpointed');
  expect(await desktopPage.distinctPictures(FROZEN_SAMPLE_MS), `pictures over ${FROZEN_SAMPLE_MS} ms while frozen`).toBe(1);
  await testInfo.attach('2-frozen', { body: await desktopPage.screenshot(), contentType: 'image/png' });

  const frozen = await desktopPage.hash();
  await page.evaluate(() => window.__canvasProbe.armClickToChange('[data-testid="restore-button"]'));
  await desktopPage.restoreButton.click();
  await desktopPage.expectPictureChange(frozen, RESTORE_TO_MOTION_MS, `the picture moves within ${RESTORE_TO_MOTION_MS} ms of Restore`);
  await desktopPage.expectState('running');
  await expect(desktopPage.banner).toContainText(/Running — restored in \d+\.\d\d s/);

  let ms: number | undefined;
  await expect.poll(async () => (ms = await clickToChangeMs(page))).toBeGreaterThan(0);
  testInfo.annotations.push({ type: 'Restore click → first changed frame', description: `${Math.round(ms!)} ms` });
  console.log(`Restore click → first changed frame: ${Math.round(ms!)} ms`);
  await testInfo.attach('3-after-restore', { body: await desktopPage.screenshot(), contentType: 'image/png' });

  // Same WebSocket, never disconnected; the desktop runs again with its processes restored.
  await desktopPage.expectUnbrokenConnection();
  const { desktop: record } = await api.desktop(desktop.id);
  expect(record.state).toBe('running');
  expect(processTree(record.pid!).length, 'processes in the restored desktop').toBeGreaterThanOrEqual(4);
  await expect(desktopPage.criuCommand).toContainText('criu restore');
  await expect(desktopPage.criuLog).toContainText('Restore finished successfully');
  // And it keeps moving, not one frame and stuck.
  await desktopPage.expectPictureChange(await desktopPage.hash(), LIVE_MOTION_MS, 'the restored picture keeps moving');
});

test('Stop with the viewer open: the viewer hears "stopped" and never reconnects into the dying desktop', async ({ desktopPage, api, desktop }) => {
  await desktopPage.open();
  const before = await desktopPage.counters();
  await desktopPage.stopButton.click();
  await desktopPage.expectState('stopped');
  await expect(desktopPage.viewer).toHaveAttribute('data-phase', 'stopped');
  // The bridge said 4004 before Xvnc died ('stopping'): no 4001, so no reconnect attempt and no second WebSocket.
  expect(await desktopPage.counters(), 'the viewer after Stop').toMatchObject({ websockets: before.websockets, connects: before.connects });
  expect((await api.desktop(desktop.id)).desktop.state).toBe('stopped');
});
