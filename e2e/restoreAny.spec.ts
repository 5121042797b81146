// Restore any checkpoint, not just the newest: three snapshots of an xterm whose background differs each time, then
// the first restored over the running desktop; the screen must be the first one's, as its thumbnail recorded it.
import { expect, test } from './fixtures';
import { colourShare, differenceFromImages } from './support/canvas';
import type { DesktopPage } from './support/desktopPage';

// No xclock: its second hand would make every picture differ a little, whatever was restored.
test.use({ desktopApps: ['xterm'] });

/** xterm's background, set by the shell (OSC 11): the whole window, a third of the screen, changes colour. */
const screens = [
  { name: 'red', hex: '#c03030', rgb: [0xc0, 0x30, 0x30] },
  { name: 'green', hex: '#30a030', rgb: [0x30, 0xa0, 0x30] },
  { name: 'blue', hex: '#3050c0', rgb: [0x30, 0x50, 0xc0] },
] as const;

/** xterm sits at +10+10 (80x24, ~490x320 px): a click inside gives it the focus, and the canvas the keyboard. */
async function paintXterm(desktopPage: DesktopPage, hex: string): Promise<void> {
  await desktopPage.clickScreenAt(200, 150);
  await desktopPage.page.keyboard.type(`printf '\\033]11;${hex}\\007'; echo screen ${hex}`);
  await desktopPage.page.keyboard.press('Enter');
}

test('three snapshots with different screens; restoring the first shows the first screen', async ({ desktopPage, api }) => {
  test.setTimeout(120_000);
  await desktopPage.open();

  const ids: string[] = [];
  for (const [i, screen] of screens.entries()) {
    await paintXterm(desktopPage, screen.hex);
    await expect
      .poll(() => colourShare(desktopPage.page, [...screen.rgb]), { message: `the xterm turns ${screen.name}`, timeout: 15_000 })
      .toBeGreaterThan(0.15);
    await desktopPage.snapshotButton.click();
    await expect(desktopPage.cards).toHaveCount(i + 1, { timeout: 30_000 });
    await expect(desktopPage.snapshotButton).toBeEnabled({ timeout: 30_000 });
    await desktopPage.expectState('running');
    const newest = (await api.desktop(desktopPage.desktopId)).checkpoints.at(-1)!;
    expect(newest).toMatchObject({ state: 'complete', leaveRunning: true, thumbnail: true });
    ids.push(newest.id);
    await expect(desktopPage.card(newest.id)).toHaveAttribute('data-mode', 'snapshot');
  }
  const [first, , third] = ids;
  const thumbnails = [await api.thumbnail(first), await api.thumbnail(third)];

  // The desktop runs (blue): restoring asks first, then stops it and brings the red one back.
  await desktopPage.restoreFromTimeline(first, { confirm: true });
  await expect
    .poll(async () => (await api.desktop(desktopPage.desktopId)).checkpoints.find((c) => c.id === first)!.restores.length, { timeout: 30_000 })
    .toBe(1);
  await desktopPage.expectState('running');
  expect((await api.desktop(desktopPage.desktopId)).desktop.lastCheckpoint).toBe(first);
  await expect(desktopPage.viewer).toHaveAttribute('data-phase', 'connected', { timeout: 15_000 });
  await expect
    .poll(() => colourShare(desktopPage.page, [...screens[0].rgb]), { message: 'the restored xterm is red', timeout: 15_000 })
    .toBeGreaterThan(0.15);
  expect(await colourShare(desktopPage.page, [...screens[2].rgb]), 'no blue left').toBeLessThan(0.02);

  // The canvas against the thumbnails the engine took just before each dump, at the thumbnails' 320 px width.
  const [toFirst, toThird] = await differenceFromImages(desktopPage.page, thumbnails);
  test.info().annotations.push({ type: 'difference', description: `to first ${toFirst.toFixed(2)}, to third ${toThird.toFixed(2)}` });
  expect(toFirst * 3, `mean abs difference: to the first ${toFirst}, to the third ${toThird}`).toBeLessThan(toThird);
  await expect(desktopPage.card(first).getByTestId('restore-count')).toContainText('1');
});
