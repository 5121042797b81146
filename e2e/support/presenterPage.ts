// The presenter and audience pages as the tests drive them: the big banner and its timer, the step panel, the
// auto-cycle, and the screen (pixels of a region, for "did the keys reach the desktop").
import { expect, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import type { DesktopRecord } from '../../server/desktops/records';
import { canvasColours, canvasHash } from './canvas';

/** Starts a desktop with commands of the test's own (the fixtures' desktop takes presets only); stop it after. */
export async function startWithCommands(request: APIRequestContext, body: { geometry?: string; apps?: string[]; commands?: string[][] }): Promise<DesktopRecord> {
  const response = await request.post('/api/desktops', { data: body });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).desktop;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** FNV-1a of the canvas pixels in a rectangle given in the desktop's own pixels (the canvas is full size). */
export function regionHash(page: Page, { x, y, width, height }: Rect): Promise<string | null> {
  return page.evaluate(
    ([x0, y0, w, h]) => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
      if (!c || !c.width) return null;
      const data = c.getContext('2d')!.getImageData(x0, y0, w, h).data;
      let hash = 0x811c9dc5;
      for (let i = 0; i < data.length; i += 4) {
        hash ^= data[i] | (data[i + 1] << 8) | (data[i + 2] << 16);
        hash = Math.imul(hash, 0x01000193);
      }
      return (hash >>> 0).toString(16);
    },
    [x, y, width, height] as const,
  );
}

/** What the two full-window pages share: the banner over a screen. */
class StagePage {
  readonly banner: Locator;
  readonly timer: Locator;
  readonly viewer: Locator;
  readonly canvas: Locator;

  constructor(readonly page: Page, readonly desktopId: string) {
    this.banner = page.getByTestId('big-banner');
    this.timer = page.getByTestId('freeze-timer');
    this.viewer = page.getByTestId('vnc-viewer');
    this.canvas = page.locator('[data-testid="vnc-screen"] canvas');
  }

  protected async waitForPicture(): Promise<void> {
    await expect(this.viewer).toHaveAttribute('data-phase', 'connected');
    await expect.poll(() => canvasColours(this.page), { message: 'the desktop picture appears' }).toBeGreaterThan(4);
  }

  hash() {
    return canvasHash(this.page);
  }

  async expectPictureChange(from: string | null, timeoutMs: number, message: string): Promise<void> {
    await expect.poll(() => this.hash(), { message, timeout: timeoutMs, intervals: [50] }).not.toBe(from);
  }

  async expectState(state: string, timeout?: number): Promise<void> {
    await expect(this.banner).toHaveAttribute('data-state', state, { timeout });
  }

  /** The freeze timer, in ms ("00:12.3" -> 12300); undefined while none shows. */
  async timerMs(): Promise<number | undefined> {
    if (!(await this.timer.isVisible())) return undefined;
    const m = /^(\d+):(\d\d)\.(\d)$/.exec((await this.timer.textContent()) ?? '');
    return m ? (Number(m[1]) * 60 + Number(m[2])) * 1000 + Number(m[3]) * 100 : undefined;
  }

  regionHash(rect: Rect): Promise<string | null> {
    return regionHash(this.page, rect);
  }

  /** The region's hash once it has stopped changing (the same over quietMs): updates still on their way landed. */
  async settledRegion(rect: Rect, quietMs = 500): Promise<string> {
    let settled: string | null = null;
    await expect
      .poll(async () => {
        const first = await this.regionHash(rect);
        await this.page.evaluate((ms) => new Promise((resolve) => setTimeout(resolve, ms)), quietMs);
        settled = first !== null && first === (await this.regionHash(rect)) ? first : null;
        return settled;
      }, { message: 'the region settles' })
      .not.toBeNull();
    return settled!;
  }

  /** Clicks the screen at (x, y) in the desktop's own pixels. */
  async clickScreenAt(x: number, y: number): Promise<void> {
    const box = await this.canvas.boundingBox();
    const size = await this.canvas.evaluate((c: HTMLCanvasElement) => ({ width: c.width, height: c.height }));
    if (!box) throw new Error('the canvas is not on screen');
    await this.canvas.click({ position: { x: (x * box.width) / size.width, y: (y * box.height) / size.height } });
  }
}

export class PresenterPage extends StagePage {
  readonly steps: Locator;
  readonly checkpointButton: Locator;
  readonly restoreButton: Locator;
  readonly cycle: Locator;
  readonly cycleCount: Locator;
  readonly keyboardOwner: Locator;
  readonly help: Locator;

  constructor(page: Page, desktopId: string) {
    super(page, desktopId);
    this.steps = page.getByTestId('step');
    this.checkpointButton = page.getByTestId('present-checkpoint');
    this.restoreButton = page.getByTestId('present-restore');
    this.cycle = page.getByTestId('auto-cycle');
    this.cycleCount = page.getByTestId('cycle-count');
    this.keyboardOwner = page.getByTestId('keyboard-owner');
    this.help = page.getByTestId('help-overlay');
  }

  async open(): Promise<void> {
    await this.page.goto(`/desktops/${this.desktopId}/present`);
    await this.waitForPicture();
  }

  /** The newest step of a kind (the panel lists newest first). */
  step(kind: 'dump' | 'restore'): Locator {
    return this.page.locator(`[data-testid="step"][data-kind="${kind}"]`).first();
  }

  /** Gives the keyboard back to the page (the screen keeps every key once clicked). */
  async blurScreen(): Promise<void> {
    await this.banner.click();
    await expect(this.keyboardOwner).toHaveAttribute('data-owner', 'page');
  }

  async setCycle(freezeS: number, runS: number, times: number): Promise<void> {
    await this.page.getByTestId('cycle-freeze').fill(String(freezeS));
    await this.page.getByTestId('cycle-run').fill(String(runS));
    await this.page.getByTestId('cycle-limit').fill(String(times));
  }
}

export class WatchPage extends StagePage {
  async open(path = `/desktops/${this.desktopId}/watch`): Promise<void> {
    await this.page.goto(path);
    await this.waitForPicture();
  }
}
