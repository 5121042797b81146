// The audience link: the desktop, view only. Keys typed into its screen do not reach the desktop (an xterm writes
// what it gets to a file, and its pixels stay put) while the control page's keys do; it follows checkpoint and
// restore over the same WebSocket.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from './fixtures';
import { installCanvasProbe } from './support/canvas';
import { DesktopPage } from './support/desktopPage';
import { startWithCommands, WatchPage } from './support/presenterPage';
import { FROZEN_SAMPLE_MS, RESTORE_TO_MOTION_MS } from './support/timing';

// The xterm's place on the 800x600 screen (-geometry 80x24+10+10, 6x13 font): away from the clock (top right)
// and icewm's taskbar (bottom), so nothing but typing changes these pixels.
const xterm = { x: 10, y: 10, width: 480, height: 300 };

test('the audience page watches: its keys reach nothing, it follows checkpoint and restore', async ({ page, context, request, adopt, stateDir }) => {
  test.setTimeout(90_000);
  {
    // tee writes each line the terminal gets to a file in the desktop's home (it may write nowhere else; its /tmp
    // is its own): exactly what was typed into the xterm, read here from the home's host folder.
    const desktop = await startWithCommands(request, { geometry: '800x600', apps: ['xclock'], commands: [['xterm', '-geometry', '80x24+10+10', '-e', 'tee', '/home/desktop/typed.txt']] });
    const typed = path.join(stateDir, 'desktops', desktop.id, 'home', 'typed.txt');
    const readTyped = () => readFile(typed, 'utf8').catch(() => '');
    adopt(desktop.id);
    await installCanvasProbe(page);
    const control = new DesktopPage(page, desktop.id);
    await control.open();

    const audience = await context.newPage();
    await installCanvasProbe(audience);
    const watch = new WatchPage(audience, desktop.id);
    await watch.open();
    await expect(watch.viewer).toHaveAttribute('data-view-only', 'true');
    await watch.expectState('running');
    // No control on the page: no buttons at all.
    await expect(audience.getByRole('button')).toHaveCount(0);

    // Running means launched, not on screen yet: type through the control page until the xterm has a line.
    await expect
      .poll(async () => {
        await control.clickScreenAt(200, 150);
        await page.keyboard.type('ready\n');
        return readTyped();
      }, { message: 'the xterm takes keys from the control page', timeout: 30_000 })
      .toContain('ready\n');
    const before = await watch.settledRegion(xterm);

    // The audience clicks and types into its screen...
    await watch.clickScreenAt(200, 150);
    await audience.keyboard.type('view\n');
    expect(await watch.regionHash(xterm), 'the xterm after the audience typed').toBe(before);
    // ...then the presenter types: only that reaches the xterm, and the audience sees it.
    await control.clickScreenAt(200, 150);
    await page.keyboard.type('ctrl\n');
    await expect.poll(readTyped).toContain('ctrl\n');
    expect(await readTyped()).not.toContain('view');
    await expect.poll(() => watch.regionHash(xterm), { message: 'the audience sees the typing' }).not.toBe(before);

    // Checkpoint from the control page: the audience's banner freezes, with a running timer, and its picture stops.
    await control.blurScreen();
    await control.checkpointButton.click();
    await watch.expectState('checkpointed');
    let first: number | undefined;
    await expect.poll(async () => (first = await watch.timerMs())).toBeDefined();
    await expect.poll(() => watch.timerMs(), { message: 'the freeze timer advances' }).toBeGreaterThan(first!);
    const frozen = await watch.hash();
    expect(await audience.evaluate((ms) => window.__canvasProbe.sample(ms, 100), FROZEN_SAMPLE_MS).then((h) => new Set(h).size), 'pictures while frozen').toBe(1);

    await control.restoreButton.click();
    await watch.expectPictureChange(frozen, RESTORE_TO_MOTION_MS, "the audience's picture moves again after the restore");
    await watch.expectState('running');
    await expect(watch.timer).toBeHidden();
    // Over the same WebSocket: the audience's VNC session came back with the desktop.
    await expect(watch.viewer).toHaveAttribute('data-websockets', '1');
    await expect(watch.viewer).toHaveAttribute('data-disconnects', '0');
    await audience.close();
  }
});

test('the watch view carries the view-only password and never the control one', async ({ request, desktop }) => {
  const response = await request.get(`/api/desktops/${desktop.id}/watch`);
  expect(response.status()).toBe(200);
  const text = await response.text();
  const { desktop: view } = JSON.parse(text);
  expect(view.vncViewPassword).toMatch(/^[A-Za-z0-9]{8}$/);
  expect(text).not.toContain(desktop.vncPassword);
  const page = await request.get(`/desktops/${desktop.id}/watch`);
  expect(page.status()).toBe(200);
  expect(await page.text()).not.toContain(desktop.vncPassword);
});

test('an audience that arrives during a freeze sees the picture of the freeze, then the live screen', async ({ page, desktop, api }) => {
  const checkpoint = await api.checkpoint(desktop.id);
  await installCanvasProbe(page);
  const watch = new WatchPage(page, desktop.id);
  await page.goto(`/desktops/${desktop.id}/watch`);
  await watch.expectState('checkpointed');
  const picture = page.getByTestId('frozen-picture').getByRole('img');
  await expect(picture).toBeVisible();
  await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { message: 'the thumbnail loads' }).toBe(320);
  await expect(watch.viewer).toHaveAttribute('data-phase', 'waiting');

  const restored = await page.request.post(`/api/checkpoints/${checkpoint.id}/restore`, { data: {} });
  expect(restored.status()).toBe(200);
  await watch.expectState('running');
  await expect(watch.viewer).toHaveAttribute('data-phase', 'connected');
  await expect(picture).toBeHidden();
  await watch.expectPictureChange(await watch.hash(), RESTORE_TO_MOTION_MS * 3, 'the live screen moves');
});
