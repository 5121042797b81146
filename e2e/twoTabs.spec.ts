// Two browser tabs watch one desktop through a checkpoint/restore cycle: one acts, both see it, neither reconnects.
import { expect, test } from './fixtures';
import { installCanvasProbe } from './support/canvas';
import { DesktopPage } from './support/desktopPage';
import { FROZEN_SAMPLE_MS, LIVE_MOTION_MS, RESTORE_TO_MOTION_MS } from './support/timing';

test('two tabs watch one desktop through a whole cycle', async ({ desktop, context, page }) => {
  const second = await context.newPage();
  await installCanvasProbe(page);
  await installCanvasProbe(second);
  const tabs = [new DesktopPage(page, desktop.id), new DesktopPage(second, desktop.id)] as const;
  for (const tab of tabs) await tab.open();
  await Promise.all(tabs.map(async (tab) => tab.expectPictureChange(await tab.hash(), LIVE_MOTION_MS, 'each tab sees the picture move')));

  // The first tab checkpoints; the second learns of it from the event stream alone.
  await tabs[0].checkpointButton.click();
  await Promise.all(tabs.map((tab) => tab.expectState('checkpointed')));
  expect(await Promise.all(tabs.map((tab) => tab.distinctPictures(FROZEN_SAMPLE_MS))), 'pictures per tab while frozen').toEqual([1, 1]);
  const frozen = await Promise.all(tabs.map((tab) => tab.hash()));

  // The second tab restores, with its shortcut.
  await tabs[1].blurScreen();
  await second.keyboard.press('Alt+KeyR');
  await Promise.all(tabs.map((tab, i) => tab.expectPictureChange(frozen[i], RESTORE_TO_MOTION_MS, `tab ${i + 1} sees the picture move again`)));
  await Promise.all(tabs.map((tab) => tab.expectState('running')));
  for (const tab of tabs) await tab.expectUnbrokenConnection();
});
