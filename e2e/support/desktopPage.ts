// The desktop page as the tests drive it: its controls, its state, and what its VNC viewer has been through.
import { expect, type Locator, type Page, type WebSocket } from '@playwright/test';
import { canvasColours, canvasHash, distinctHashes } from './canvas';

export interface ViewerCounters {
  phase: string | null;
  websockets: number;
  connects: number;
  disconnects: number;
}

export class DesktopPage {
  readonly banner: Locator;
  readonly viewer: Locator;
  readonly checkpointButton: Locator;
  readonly restoreButton: Locator;
  readonly snapshotButton: Locator;
  /** The timeline's checkpoint cards, newest first. */
  readonly cards: Locator;
  /** "Stop the running desktop and restore this checkpoint?" */
  readonly confirmDialog: Locator;
  readonly stopButton: Locator;
  readonly errorPanel: Locator;
  readonly criuCommand: Locator;
  readonly criuLog: Locator;
  /** The VNC WebSockets this page opened, as the browser saw them (not as the app counts them). */
  readonly vncSockets: WebSocket[] = [];

  constructor(
    readonly page: Page,
    readonly desktopId: string,
  ) {
    this.banner = page.getByTestId('state-banner');
    this.viewer = page.getByTestId('vnc-viewer');
    this.checkpointButton = page.getByTestId('checkpoint-button');
    this.restoreButton = page.getByTestId('restore-button');
    this.snapshotButton = page.getByTestId('snapshot-button');
    this.cards = page.getByTestId('checkpoint-card');
    this.confirmDialog = page.getByRole('dialog');
    this.stopButton = page.getByRole('button', { name: 'Stop desktop' });
    this.errorPanel = page.getByTestId('error-panel');
    this.criuCommand = page.getByTestId('criu-command');
    this.criuLog = page.getByTestId('criu-log');
    page.on('websocket', (ws) => {
      if (ws.url().endsWith(`/api/desktops/${desktopId}/vnc`)) this.vncSockets.push(ws);
    });
  }

  /** The viewer's counters once open() saw it connected: what "unbroken" is measured against. */
  private opened?: ViewerCounters & { sockets: number };

  /** Opens the page and waits for a connected viewer showing a picture (not a blank screen). */
  async open(): Promise<void> {
    await this.page.goto(`/desktops/${this.desktopId}`);
    await expect(this.viewer).toHaveAttribute('data-phase', 'connected');
    await expect.poll(() => canvasColours(this.page), { message: 'the desktop picture appears' }).toBeGreaterThan(4);
    this.opened = { ...(await this.counters()), sockets: this.vncSockets.length };
  }

  hash() {
    return canvasHash(this.page);
  }

  /** How many different pictures the canvas showed over durationMs. */
  distinctPictures(durationMs: number) {
    return distinctHashes(this.page, durationMs);
  }

  /** Waits until the picture differs from `from` (a hash), within timeoutMs. */
  async expectPictureChange(from: string | null, timeoutMs: number, message: string): Promise<void> {
    await expect.poll(() => this.hash(), { message, timeout: timeoutMs, intervals: [50] }).not.toBe(from);
  }

  async expectState(state: string, timeout?: number): Promise<void> {
    await expect(this.banner).toHaveAttribute('data-state', state, { timeout });
  }

  /** The seconds the banner's "Frozen for 12.4 s" shows, or undefined when it shows something else. */
  async frozenSeconds(): Promise<number | undefined> {
    const text = await this.banner.textContent();
    const m = /Frozen for ([\d.]+) s/.exec(text ?? '');
    return m ? Number(m[1]) : undefined;
  }

  async counters(): Promise<ViewerCounters> {
    const n = async (name: string) => Number(await this.viewer.getAttribute(name));
    return {
      phase: await this.viewer.getAttribute('data-phase'),
      websockets: await n('data-websockets'),
      connects: await n('data-connects'),
      disconnects: await n('data-disconnects'),
    };
  }

  /**
   * Since open(): no new WebSocket, no new connect, no disconnect, and the socket open() saw is still open. The VNC
   * session survived everything the test did (a failed first attempt before open() is the bridge's business).
   */
  async expectUnbrokenConnection(): Promise<void> {
    const opened = this.opened;
    if (!opened) throw new Error('open() the page first');
    const { sockets: _sockets, ...countersThen } = opened;
    expect(await this.counters(), 'the viewer since the page opened').toEqual({ ...countersThen, phase: 'connected' });
    expect(this.vncSockets, 'VNC WebSockets the browser opened').toHaveLength(opened.sockets);
    expect(this.vncSockets.at(-1)!.isClosed(), 'the VNC WebSocket is still open').toBe(false);
  }

  card(checkpointId: string): Locator {
    return this.page.locator(`[data-testid="checkpoint-card"][data-checkpoint="${checkpointId}"]`);
  }

  /** Presses Restore on a checkpoint's card; over a running desktop, answers the confirm dialog with "Stop and restore". */
  async restoreFromTimeline(checkpointId: string, { confirm }: { confirm: boolean }): Promise<void> {
    await this.card(checkpointId).getByRole('button', { name: `Restore ${checkpointId}` }).click();
    if (!confirm) return;
    await expect(this.confirmDialog).toBeVisible();
    await expect(this.confirmDialog).toContainText('Stop the running desktop and restore this checkpoint?');
    await this.confirmDialog.getByRole('button', { name: 'Stop and restore' }).click();
    await expect(this.confirmDialog).toBeHidden();
  }

  /** Clicks the screen at (x, y) in the desktop's own pixels (the canvas is scaled to fit): focus for typing. */
  async clickScreenAt(x: number, y: number): Promise<void> {
    const canvas = this.page.locator('[data-testid="vnc-screen"] canvas');
    const box = await canvas.boundingBox();
    const size = await canvas.evaluate((c: HTMLCanvasElement) => ({ width: c.width, height: c.height }));
    if (!box) throw new Error('the canvas is not on screen');
    await canvas.click({ position: { x: (x * box.width) / size.width, y: (y * box.height) / size.height } });
  }

  /** Moves focus off the VNC canvas (which takes every key once focused), so the page's shortcuts apply. */
  async blurScreen(): Promise<void> {
    await this.page.getByRole('heading', { name: this.desktopId }).click();
    await expect(this.page.locator('[data-testid="vnc-screen"] canvas')).not.toBeFocused();
  }

  async screenshot(): Promise<Buffer> {
    return this.page.screenshot({ fullPage: true });
  }
}
