// One app's window on a desktop as the tests see it: where X put it (xwininfo), what its part of the noVNC canvas
// shows (ink, colour shares, a hash), input through the canvas, and its process in the desktop's tree.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from '@playwright/test';
import type { DesktopPage } from './desktopPage';
import { processTree } from './processes';
import { largestWindow, type Region } from '../../test/support/windows';
import { xCommand, type XDesktop } from '../../test/support/xDisplay';

export type { Region };

export interface RegionPixels {
  /** FNV-1a over the region's pixels. */
  hash: string;
  /** The region's most common colour and its share of the pixels. */
  dominant: [number, number, number];
  /** Pixels farther than 48 (summed over RGB) from the dominant colour: text and drawings on a background. */
  ink: number;
}

/** The largest mapped top-level window whose name matches, in screen pixels, or undefined while there is none. */
export function findWindow(desktop: XDesktop, name: RegExp): Region | undefined {
  let tree: string;
  try {
    const [program, args] = xCommand(desktop, 'xwininfo', ['-root', '-tree']);
    tree = execFileSync(program, args, { encoding: 'utf8', timeout: 10_000 });
  } catch {
    return undefined;
  }
  return largestWindow(tree, name);
}

/** The comm (process name) of every process in the tree under root. */
export function comms(root: number): { pid: number; comm: string; nsPid: number }[] {
  return processTree(root).flatMap(({ pid }) => {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      // NSpid's last field: the pid inside the desktop's namespace, which criu restores as it was dumped.
      const nsPid = Number(/^NSpid:.*\s(\d+)\s*$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      return [{ pid, comm, nsPid }];
    } catch {
      return [];
    }
  });
}

export class AppWindow {
  region?: Region;

  constructor(
    readonly desktopPage: DesktopPage,
    readonly display: XDesktop,
    /** The window's name as X knows it ("xterm", "Untitled 1 - Mousepad"). */
    readonly name: RegExp,
    /** The app's process name in the desktop's tree (comm, at most 15 characters). */
    readonly comm: RegExp,
  ) {}

  /** Waits until X maps the window and the canvas shows something drawn in it (not one flat colour). */
  async waitShown(timeout = 60_000): Promise<Region> {
    await expect
      .poll(() => (this.region = findWindow(this.display, this.name)), { message: `the window ${this.name} is mapped`, timeout })
      .toBeDefined();
    await expect.poll(async () => (await this.pixels()).ink, { message: `the canvas shows ${this.name} drawn`, timeout }).toBeGreaterThan(200);
    return this.region!;
  }

  /** Ink, dominant colour and hash of the window's part of the canvas (every pixel). */
  pixels(region = this.region): Promise<RegionPixels> {
    if (!region) throw new Error('waitShown() first');
    return this.desktopPage.page.evaluate(({ x, y, width, height }) => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
      if (!c || !c.width) throw new Error('no canvas');
      const [w, h] = [Math.min(width, c.width - x), Math.min(height, c.height - y)];
      const data = c.getContext('2d')!.getImageData(x, y, w, h).data;
      let hash = 0x811c9dc5;
      const counts = new Map<number, number>();
      for (let i = 0; i < data.length; i += 4) {
        const rgb = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16);
        hash = Math.imul(hash ^ rgb, 0x01000193);
        counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
      }
      let top = 0;
      let most = 0;
      for (const [rgb, n] of counts) if (n > most) [top, most] = [rgb, n];
      const dominant: [number, number, number] = [top & 255, (top >> 8) & 255, (top >> 16) & 255];
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (Math.abs(data[i] - dominant[0]) + Math.abs(data[i + 1] - dominant[1]) + Math.abs(data[i + 2] - dominant[2]) > 48) ink++;
      }
      return { hash: `${(hash >>> 0).toString(16)}`, dominant, ink };
    }, region);
  }

  /** Share (0..1) of the window's pixels within 24 per channel of rgb. */
  async share(rgb: [number, number, number]): Promise<number> {
    const region = this.region!;
    return this.desktopPage.page.evaluate(
      ({ region: { x, y, width, height }, rgb: [r, g, b] }) => {
        const c = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas')!;
        const data = c.getContext('2d')!.getImageData(x, y, Math.min(width, c.width - x), Math.min(height, c.height - y)).data;
        let near = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (Math.abs(data[i] - r) <= 24 && Math.abs(data[i + 1] - g) <= 24 && Math.abs(data[i + 2] - b) <= 24) near++;
        }
        return near / (data.length / 4);
      },
      { region, rgb },
    );
  }

  /** Clicks the window at a fraction of its size (0.5, 0.5: its middle): the canvas takes the keyboard, X the click. */
  async click(fx = 0.5, fy = 0.5): Promise<void> {
    const { x, y, width, height } = this.region!;
    await this.desktopPage.clickScreenAt(Math.round(x + width * fx), Math.round(y + height * fy));
  }

  /** Types into the desktop through the canvas (which must have the focus: click() first). */
  async type(text: string, { enter = false } = {}): Promise<void> {
    await this.desktopPage.page.keyboard.type(text, { delay: 15 });
    if (enter) await this.desktopPage.page.keyboard.press('Enter');
  }

  /**
   * The window's ink once its picture holds still (within tolerance: a blinking cursor is a few dozen pixels): an app
   * still painting its first frames when its window shows would make a figure taken then wrong (Writer under load
   * lost 13,800 pixels of ink after it was measured, and the typed line could not make up for it).
   */
  async settledInk(tolerance: number, timeout = 15_000): Promise<number> {
    let last = -Infinity;
    let ink = 0;
    await expect
      .poll(async () => {
        ink = (await this.pixels()).ink;
        const still = Math.abs(ink - last) <= tolerance;
        last = ink;
        return still;
      }, { message: 'the window\'s picture holds still', timeout, intervals: [250] })
      .toBe(true);
    return ink;
  }

  /** Waits until the window's ink rises above `than` + margin: what was typed is drawn. */
  async expectInkAbove(than: number, margin: number, message: string, timeout = 15_000): Promise<number> {
    let ink = 0;
    await expect.poll(async () => (ink = (await this.pixels()).ink), { message, timeout }).toBeGreaterThan(than + margin);
    return ink;
  }

  /** The app's processes in the desktop's (current) tree. */
  processes(desktopPid: number) {
    return comms(desktopPid).filter((p) => this.comm.test(p.comm));
  }
}
