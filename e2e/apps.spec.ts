// The app catalog end to end: each preset alone on a desktop (with icewm), five consecutive checkpoint/restore cycles
// on its page, then input through the page's canvas and its effect in the canvas; what was done before the first
// dump is still on screen after the last restore (the app came back from its images, it was not started again).
import type { Api } from './support/api';
import { AppWindow, findWindow } from './support/appWindow';
import type { DesktopPage } from './support/desktopPage';
import { appPresets } from '../lib/presets';
import { expect, test } from './fixtures';

const CYCLES = 5;

test("the dashboard's start form offers every preset of the catalog", async ({ page }) => {
  await page.goto('/');
  const offered = await page.locator('input[type="checkbox"][name="apps"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value));
  expect(offered).toEqual(Object.keys(appPresets));
  for (const preset of Object.values(appPresets)) await expect(page.getByRole('checkbox', { name: preset.label })).toBeVisible();
});

/**
 * CYCLES times Checkpoint then Restore on the page, the app's process checked back after each; then: the app's
 * processes are those the last checkpoint's images hold (same pids in the desktop's namespace), the VNC connection
 * never broke, and the figures (dump, image size, restore) are logged.
 */
async function cycles(desktopPage: DesktopPage, api: Api, app: AppWindow, timeout = 30_000): Promise<void> {
  for (let n = 1; n <= CYCLES; n++) {
    await desktopPage.checkpointButton.click();
    await desktopPage.expectState('checkpointed', timeout);
    await desktopPage.restoreButton.click();
    await desktopPage.expectState('running', timeout);
    const { desktop } = await api.desktop(desktopPage.desktopId);
    expect(app.processes(desktop.pid!), `cycle ${n}: the app's process is back`).not.toEqual([]);
  }
  const { desktop, checkpoints } = await api.desktop(desktopPage.desktopId);
  expect(checkpoints.map((c) => [c.state, c.restores.filter((r) => r.ok).length]), 'five checkpoints, each restored once').toEqual(
    Array(CYCLES).fill(['complete', 1]),
  );
  const dumped = (await api.inspect(checkpoints.at(-1)!.id)).processes.filter((p) => app.comm.test(p.comm)).map((p) => p.pid);
  const running = app.processes(desktop.pid!).map((p) => p.nsPid);
  expect(dumped.length, "the app's processes in the last checkpoint").toBeGreaterThan(0);
  expect(running.filter((pid) => !dumped.includes(pid)), 'running app processes that did not come from the images').toEqual([]);
  await desktopPage.expectUnbrokenConnection();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(
    `[apps] ${app.comm.source}: ${CYCLES} cycles, dump median ${median(checkpoints.map((c) => c.dumpMs!)).toFixed(0)} ms, ` +
      `image median ${(median(checkpoints.map((c) => c.imageBytes!)) / 1e6).toFixed(0)} MB, ` +
      `restore median ${median(checkpoints.map((c) => c.restores[0].ms!)).toFixed(0)} ms`,
  );
}

/** Apps that take text: what is typed before the dumps stays drawn, and what is typed after them is drawn too. */
const textApps = [
  {
    preset: 'xterm',
    window: /^xterm$/,
    comm: /^xterm$/,
    // A command whose output fills lines, then one that prints a long listing.
    before: "seq 100000 100060 | paste -sd ' '",
    after: 'ls -l /usr/bin | head -20',
    enter: true,
    margin: 2_000,
  },
  { preset: 'mousepad', window: /Mousepad/, comm: /^mousepad$/, before: 'Typed before the first checkpoint.', after: 'And typed after five restores.', enter: true, margin: 300 },
  { preset: 'writer', window: /LibreOffice Writer/, comm: /^soffice\.bin$/, before: 'Typed before the first checkpoint.', after: 'And typed after five restores.', enter: true, margin: 300 },
  // Digits go to the calculator's display in a large font; click its display (not a button) for the focus.
  { preset: 'calculator', window: /^Calculator$/, comm: /^gnome-calculato/, before: '12345', after: '67890', enter: false, margin: 300, focusAt: [0.5, 0.2] as const },
];

for (const app of textApps) {
  test.describe(app.preset, () => {
    test.use({ desktopApps: [app.preset] });

    test(`${app.preset}: ${CYCLES} checkpoint/restore cycles, then typing into it shows in the canvas`, async ({ desktopPage, desktop, api }) => {
      test.setTimeout(180_000);
      await desktopPage.open();
      const window = new AppWindow(desktopPage, desktop, app.window, app.comm);
      await window.waitShown();
      const fresh = await window.settledInk(app.margin / 4);
      await window.click(...(app.focusAt ?? [0.5, 0.5]));
      await window.type(app.before, { enter: app.enter });
      const typed = await window.expectInkAbove(fresh, app.margin, 'what was typed before the dumps is drawn');

      await cycles(desktopPage, api, window);

      // Still there after five restores: a restarted app would show its fresh, emptier window.
      await expect
        .poll(async () => (await window.pixels()).ink, { message: 'what was typed before the dumps is still drawn' })
        .toBeGreaterThan((fresh + typed) / 2);
      const restored = (await window.pixels()).ink;
      await window.click(...(app.focusAt ?? [0.5, 0.5]));
      await window.type(app.after, { enter: app.enter });
      await window.expectInkAbove(restored, app.margin, 'what is typed after the restores is drawn');
    });
  });
}

test.describe('xclock', () => {
  test.use({ desktopApps: ['xclock'] });

  test(`xclock: ${CYCLES} checkpoint/restore cycles, then its second hand still moves`, async ({ desktopPage, desktop, api }) => {
    await desktopPage.open();
    const clock = new AppWindow(desktopPage, desktop, /^xclock$/, /^xclock$/);
    await clock.waitShown();
    const ticking = async (message: string) => {
      for (let tick = 0; tick < 2; tick++) {
        const { hash } = await clock.pixels();
        await expect.poll(async () => (await clock.pixels()).hash, { message, timeout: 5_000, intervals: [100] }).not.toBe(hash);
      }
    };
    await ticking('the second hand moves before the dumps');
    await cycles(desktopPage, api, clock);
    // xclock takes no input: its moving hand is the effect to see.
    await ticking('the second hand moves after the restores');
  });
});

test.describe('xpdf', () => {
  test.use({ desktopApps: ['xpdf'] });

  test(`xpdf: ${CYCLES} checkpoint/restore cycles, then a key turns the page`, async ({ desktopPage, desktop, api }) => {
    test.setTimeout(120_000);
    await desktopPage.open();
    const viewer = new AppWindow(desktopPage, desktop, /^Xpdf: /, /^xpdf/);
    await viewer.waitShown();
    // native/apps/sample.pdf: page 1 pink, page 2 green, page 3 blue.
    const [pink, green, blue] = [[255, 217, 217], [217, 255, 217], [217, 217, 255]] as [number, number, number][];
    await expect.poll(() => viewer.share(pink), { message: 'page 1 (pink) is shown' }).toBeGreaterThan(0.3);
    await viewer.click();
    await viewer.type('n');
    await expect.poll(() => viewer.share(green), { message: 'n turns to page 2 (green)' }).toBeGreaterThan(0.3);

    await cycles(desktopPage, api, viewer);

    // Still on page 2: a restarted xpdf would open on page 1.
    await expect.poll(() => viewer.share(green), { message: 'page 2 is still shown after the restores' }).toBeGreaterThan(0.3);
    await viewer.click();
    await viewer.type('n');
    await expect.poll(() => viewer.share(blue), { message: 'n turns to page 3 (blue) after the restores' }).toBeGreaterThan(0.3);
  });
});

// The browsers on native/apps/counter.html: white, counting ten times a second; a click turns it red, then blue.
const counterPages = [
  { preset: 'firefox', window: /Mozilla Firefox/, comm: /^firefox-esr$/ },
  // An app window (--app): the page's title is the window's name.
  { preset: 'chromium', window: /^Freezeframe counter$/, comm: /^chromium$/ },
];

for (const browser of counterPages) {
  test.describe(browser.preset, () => {
    test.use({ desktopApps: [browser.preset] });

    test(`${browser.preset}: ${CYCLES} checkpoint/restore cycles, the page's counter runs on and a click turns its colour`, async ({ desktopPage, desktop, api }) => {
      test.setTimeout(240_000);
      await desktopPage.open();
      const page = new AppWindow(desktopPage, desktop, browser.window, browser.comm);
      await page.waitShown(90_000);
      const [white, red, blue] = [[255, 255, 255], [255, 0, 0], [0, 0, 255]] as [number, number, number][];
      await expect.poll(() => page.share(white), { message: 'the counter page is shown', timeout: 60_000 }).toBeGreaterThan(0.3);
      const counting = async (message: string) => {
        for (let tick = 0; tick < 3; tick++) {
          const { hash } = await page.pixels();
          await expect.poll(async () => (await page.pixels()).hash, { message, timeout: 5_000, intervals: [50] }).not.toBe(hash);
        }
      };
      await counting("the page's JavaScript counter runs");
      await page.click(0.5, 0.6);
      await expect.poll(() => page.share(red), { message: 'a click turns the page red' }).toBeGreaterThan(0.3);

      await cycles(desktopPage, api, page, 60_000);

      // Still red (a restarted browser would load the page white), and its counter runs on.
      await expect.poll(() => page.share(red), { message: 'the page is still red after the restores' }).toBeGreaterThan(0.3);
      await counting("the page's JavaScript counter runs after the restores");
      await page.click(0.5, 0.6);
      await expect.poll(() => page.share(blue), { message: 'a click after the restores turns the page blue' }).toBeGreaterThan(0.3);
    });
  });
}

test.describe('mpv', () => {
  test.use({ desktopApps: ['mpv'] });

  test(`mpv: ${CYCLES} checkpoint/restore cycles, the clip plays on and f leaves full screen`, async ({ desktopPage, desktop, api }) => {
    test.setTimeout(180_000);
    await desktopPage.open();
    const player = new AppWindow(desktopPage, desktop, /^Freezeframe clip$/, /^mpv$/);
    const windowed = await player.waitShown();
    const playing = async (message: string) => {
      for (let frame = 0; frame < 3; frame++) {
        const { hash } = await player.pixels();
        await expect.poll(async () => (await player.pixels()).hash, { message, timeout: 5_000, intervals: [50] }).not.toBe(hash);
      }
    };
    await playing('the clip plays');
    // f: full screen, a state of the running player (a restarted one opens in its 480x360 window).
    await player.click();
    await player.type('f');
    await expect.poll(() => findWindow(desktop, player.name)?.width, { message: 'f turns the player full screen' }).toBeGreaterThan(windowed.width);
    player.region = findWindow(desktop, player.name);

    await cycles(desktopPage, api, player);

    expect(findWindow(desktop, player.name), 'still full screen after the restores').toEqual(player.region);
    await playing('the clip plays on after the restores');
    await player.click();
    await player.type('f');
    await expect.poll(() => findWindow(desktop, player.name)?.width, { message: 'f after the restores leaves full screen' }).toBe(windowed.width);
    player.region = findWindow(desktop, player.name);
    await playing('the clip plays in its window');
  });
});
