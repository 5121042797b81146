// Presenter mode: shortcuts drive checkpoint and restore, the big banner's freeze timer runs, the step panel shows
// criu's exact command, its duration and its log's verdict; the auto-cycle runs its cycles and stops by itself.
import { expect, test } from './fixtures';
import { installCanvasProbe } from './support/canvas';
import { PresenterPage } from './support/presenterPage';
import { LIVE_MOTION_MS, RESTORE_TO_MOTION_MS } from './support/timing';

test.beforeEach(async ({ page }) => installCanvasProbe(page));

test('C checkpoints, the timer runs, the step panel explains; R restores and the picture moves', async ({ page, desktop }) => {
  const presenter = new PresenterPage(page, desktop.id);
  await presenter.open();
  await expect(presenter.banner).toHaveAttribute('data-state', 'running');
  await expect(presenter.keyboardOwner).toHaveAttribute('data-owner', 'page');

  await page.keyboard.press('c');
  await presenter.expectState('checkpointed');
  // The timer runs: it shows a value, then a larger one.
  let first: number | undefined;
  await expect.poll(async () => (first = await presenter.timerMs()), { message: 'the freeze timer shows' }).toBeDefined();
  await expect.poll(() => presenter.timerMs(), { message: 'the freeze timer advances' }).toBeGreaterThan(first!);

  const dump = presenter.step('dump');
  await expect(dump).toHaveAttribute('data-status', 'ok');
  await expect(dump.getByTestId('step-command')).toContainText('criu dump');
  await expect(dump.getByTestId('step-command')).toContainText(`--tree ${desktop.pid}`);
  await expect(dump.getByTestId('step-duration')).toHaveText(/^\d+\.\d\d s$/);
  await expect(dump.getByTestId('step-verdict')).toHaveText('log: Dumping finished successfully');
  const frozen = await presenter.hash();

  await page.keyboard.press('r');
  await presenter.expectPictureChange(frozen, RESTORE_TO_MOTION_MS, 'the picture moves within 2 s of R');
  await presenter.expectState('running');
  const restore = presenter.step('restore');
  await expect(restore).toHaveAttribute('data-status', 'ok');
  await expect(restore.getByTestId('step-command')).toContainText('criu restore');
  await expect(restore.getByTestId('step-command')).toContainText('--tcp-established');
  await expect(restore.getByTestId('step-duration')).toHaveText(/^\d+\.\d\d s$/);
  await expect(restore.getByTestId('step-verdict')).toContainText('Restore finished successfully');
  await expect(presenter.steps).toHaveCount(2);
  // The same VNC session all along.
  await expect(presenter.viewer).toHaveAttribute('data-websockets', '1');
  await expect(presenter.viewer).toHaveAttribute('data-disconnects', '0');
});

test('keys go to the desktop while its screen has the focus; ? and Esc work once it is left', async ({ page, desktop }) => {
  const presenter = new PresenterPage(page, desktop.id);
  await presenter.open();
  await presenter.clickScreenAt(100, 100);
  await expect(presenter.keyboardOwner).toHaveAttribute('data-owner', 'desktop');
  await page.keyboard.press('c');
  await presenter.blurScreen();
  await page.keyboard.press('?');
  await expect(presenter.help).toBeVisible();
  // A C that had reached the page would have started a dump before the ? was handled: the button would be busy,
  // or the desktop frozen already.
  await expect(presenter.checkpointButton).toBeEnabled();
  await expect(presenter.checkpointButton).not.toHaveAttribute('aria-busy', 'true');
  await expect(presenter.banner).toHaveAttribute('data-state', 'running');
  await expect(presenter.steps).toHaveCount(0);

  await page.keyboard.press('Escape');
  await expect(presenter.help).toBeHidden();
  await page.keyboard.press('Escape');
  await expect(page).toHaveURL(new RegExp(`/desktops/${desktop.id}$`));
  // The desktop page's own viewer, connected (the desktop is stopped after the test: not mid-handshake).
  await expect(page.getByTestId('vnc-viewer')).toHaveAttribute('data-phase', 'connected');
});

test('auto-cycle: frozen 1 s, running 1 s, twice; the counter reads 2 and the picture moves after', async ({ page, desktop }) => {
  test.setTimeout(90_000);
  const presenter = new PresenterPage(page, desktop.id);
  await presenter.open();
  await presenter.setCycle(1, 1, 2);
  await presenter.blurScreen();
  await page.keyboard.press('a');
  await expect(presenter.cycle).not.toHaveAttribute('data-phase', 'idle');
  // Each cycle shows its freeze on the banner.
  await presenter.expectState('checkpointed');
  await expect(presenter.cycleCount).toHaveText('2', { timeout: 45_000 });
  await expect(presenter.cycle).toHaveAttribute('data-phase', 'idle');
  await expect(page.getByTestId('cycle-failures')).toHaveText('0');
  await expect(page.getByTestId('cycle-error')).toHaveCount(0);
  await presenter.expectState('running');
  await expect(presenter.steps).toHaveCount(4);
  await expect(page.locator('[data-testid="step"][data-status="ok"]')).toHaveCount(4);
  await presenter.expectPictureChange(await presenter.hash(), LIVE_MOTION_MS, 'the picture moves after the cycles');
  await expect(presenter.viewer).toHaveAttribute('data-websockets', '1');
});

test('Esc during an auto-cycle freeze restores and stops the cycle, and stays in presenter mode', async ({ page, desktop }) => {
  const presenter = new PresenterPage(page, desktop.id);
  await presenter.open();
  await presenter.setCycle(60, 1, 0);
  await presenter.blurScreen();
  await page.keyboard.press('a');
  await presenter.expectState('checkpointed');
  await expect(page.getByTestId('cycle-status')).toContainText('restoring in');
  await page.keyboard.press('Escape');
  await presenter.expectState('running');
  await expect(presenter.cycle).toHaveAttribute('data-phase', 'idle');
  await expect(presenter.cycleCount).toHaveText('1');
  await expect(page).toHaveURL(new RegExp(`/desktops/${desktop.id}/present$`));
  await expect(presenter.viewer).toHaveAttribute('data-phase', 'connected');
});

test('auto-cycle stops at the first failure and says why', async ({ page, desktop, api }) => {
  const presenter = new PresenterPage(page, desktop.id);
  await presenter.open();
  await presenter.setCycle(30, 1, 0);
  await presenter.cycle.getByTestId('cycle-toggle').click();
  await presenter.expectState('checkpointed');
  // Someone else restores meanwhile (the API): the cycle's own restore then finds a running desktop and fails.
  const { checkpoints } = await api.desktop(desktop.id);
  const response = await page.request.post(`/api/checkpoints/${checkpoints.at(-1)!.id}/restore`, { data: {} });
  expect(response.status()).toBe(200);
  await presenter.expectState('running');
  await presenter.cycle.getByTestId('cycle-toggle').click(); // stop: it restores at once, over a running desktop
  await expect(page.getByTestId('cycle-error')).toContainText(/running/);
  await expect(page.getByTestId('cycle-failures')).toHaveText('1');
  await expect(presenter.cycle).toHaveAttribute('data-phase', 'idle');
  await expect(presenter.cycleCount).toHaveText('0');
});

test('the desktop page links to presenter mode and shows the audience link', async ({ page, desktop }) => {
  await page.goto(`/desktops/${desktop.id}`);
  const link = page.getByTestId('audience-link').getByRole('textbox', { name: 'Audience link' });
  // On loopback no token is needed: the bare watch page.
  await expect(link).toHaveValue(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/desktops/${desktop.id}/watch$`));
  await page.getByTestId('presenter-link').click();
  await expect(page).toHaveURL(new RegExp(`/desktops/${desktop.id}/present$`));
  await expect(page.getByTestId('presenter')).toBeVisible();
  await expect(page.getByTestId('audience-link').getByRole('textbox')).toHaveValue(new RegExp(`/desktops/${desktop.id}/watch$`));
  await expect(page.getByTestId('vnc-viewer')).toHaveAttribute('data-phase', 'connected');
});
