// A long freeze: the desktop stays frozen for 40 s, driven by the keyboard shortcuts, and still comes back live.
import { expect, test } from './fixtures';
import { RESTORE_TO_MOTION_MS } from './support/timing';

/**
 * Waiting this long is the point of the test: it outlasts the bridge's 15 s heartbeat twice over and any idle
 * timer a proxy, the browser or TCP might apply, so the one VNC connection must survive a real pause, not a blink.
 */
const FREEZE_HOLD_MS = 40_000;

test(`a desktop frozen for ${FREEZE_HOLD_MS / 1000} s moves again within ${RESTORE_TO_MOTION_MS / 1000} s of Restore`, async ({ desktopPage }) => {
  test.setTimeout(FREEZE_HOLD_MS + 60_000);
  await desktopPage.open();
  await desktopPage.blurScreen();

  await desktopPage.page.keyboard.press('Alt+KeyC');
  await desktopPage.expectState('checkpointed');
  const frozen = await desktopPage.hash();

  // The page's own ticking "Frozen for N s" is the clock: wait for it, not for a sleep.
  await expect
    .poll(() => desktopPage.frozenSeconds(), { message: `frozen for ${FREEZE_HOLD_MS} ms`, timeout: FREEZE_HOLD_MS + 15_000, intervals: [1_000] })
    .toBeGreaterThanOrEqual(FREEZE_HOLD_MS / 1000);
  expect(await desktopPage.hash(), 'the picture did not change during the freeze').toBe(frozen);
  await desktopPage.expectUnbrokenConnection();

  await desktopPage.page.keyboard.press('Alt+KeyR');
  await desktopPage.expectPictureChange(frozen, RESTORE_TO_MOTION_MS, `the picture moves within ${RESTORE_TO_MOTION_MS} ms of Restore`);
  await desktopPage.expectState('running');
  await desktopPage.expectUnbrokenConnection();
});
