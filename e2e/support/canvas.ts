// Reading the noVNC canvas from the tests: a hash of its pixels, samples over time, a restore-to-frame timer, the
// share of a colour on screen, and its difference from a checkpoint's thumbnail.
import type { Page } from '@playwright/test';

interface CanvasProbe {
  /** FNV-1a over every pixel, plus the size; null while there is no canvas with pixels yet. */
  hash(): string | null;
  /** How many distinct colours one row in 16 holds: a blank (all-black) screen has one. */
  colours(): number;
  /** Hashes taken every everyMs over durationMs, in the page (no round trip per sample). */
  sample(durationMs: number, everyMs: number): Promise<(string | null)[]>;
  /** Arms a timer: from the next click on `selector` to the first animation frame whose pixels differ. */
  armClickToChange(selector: string): void;
  clickToChange?: { clickAt?: number; changeAt?: number };
}

declare global {
  interface Window {
    __canvasProbe: CanvasProbe;
  }
}

/** Installs window.__canvasProbe in every document the page loads (before the app's own scripts). */
export async function installCanvasProbe(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const canvas = () => document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
    const pixels = () => {
      const c = canvas();
      if (!c || !c.width || !c.height) return null;
      return { c, data: c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data };
    };
    const probe: CanvasProbe = {
      hash() {
        const p = pixels();
        if (!p) return null;
        let h = 0x811c9dc5;
        for (let i = 0; i < p.data.length; i += 4) {
          h ^= p.data[i] | (p.data[i + 1] << 8) | (p.data[i + 2] << 16);
          h = Math.imul(h, 0x01000193);
        }
        return `${(h >>> 0).toString(16)}@${p.c.width}x${p.c.height}`;
      },
      colours() {
        const p = pixels();
        if (!p) return 0;
        const seen = new Set<number>();
        for (let y = 0; y < p.c.height; y += 16) {
          for (let x = 0; x < p.c.width; x++) {
            const i = (y * p.c.width + x) * 4;
            seen.add(p.data[i] | (p.data[i + 1] << 8) | (p.data[i + 2] << 16));
          }
        }
        return seen.size;
      },
      async sample(durationMs, everyMs) {
        const hashes: (string | null)[] = [];
        const end = performance.now() + durationMs;
        for (;;) {
          hashes.push(probe.hash());
          if (performance.now() >= end) return hashes;
          await new Promise((resolve) => setTimeout(resolve, everyMs));
        }
      },
      armClickToChange(selector) {
        const base = probe.hash();
        const timer: NonNullable<CanvasProbe['clickToChange']> = {};
        probe.clickToChange = timer;
        const watch = () => {
          if (probe.hash() !== base) timer.changeAt = performance.now();
          else requestAnimationFrame(watch);
        };
        document.querySelector(selector)!.addEventListener(
          'click',
          () => {
            timer.clickAt = performance.now();
            requestAnimationFrame(watch);
          },
          { once: true, capture: true },
        );
      },
    };
    window.__canvasProbe = probe;
  });
}

export const canvasHash = (page: Page) => page.evaluate(() => window.__canvasProbe.hash());
export const canvasColours = (page: Page) => page.evaluate(() => window.__canvasProbe.colours());

/** Distinct hashes seen over durationMs: 1 means the picture did not change at all in that window. */
export async function distinctHashes(page: Page, durationMs: number, everyMs = 100): Promise<number> {
  const hashes = await page.evaluate(([d, e]) => window.__canvasProbe.sample(d, e), [durationMs, everyMs] as const);
  if (hashes.includes(null)) throw new Error('the canvas disappeared while sampling');
  return new Set(hashes).size;
}

/** Milliseconds from the armed click to the first changed frame, once both happened. */
export const clickToChangeMs = (page: Page) =>
  page.evaluate(() => {
    const t = window.__canvasProbe.clickToChange;
    return t?.clickAt !== undefined && t.changeAt !== undefined ? t.changeAt - t.clickAt : undefined;
  });

/** Share (0..1) of the canvas's pixels within tolerance (per channel) of rgb; one pixel in 4 each way is enough. */
export const colourShare = (page: Page, rgb: [number, number, number], tolerance = 40) =>
  page.evaluate(
    ([[r, g, b], tol]) => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
      if (!c || !c.width || !c.height) return 0;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let near = 0;
      let all = 0;
      for (let y = 0; y < c.height; y += 4) {
        for (let x = 0; x < c.width; x += 4) {
          const i = (y * c.width + x) * 4;
          all++;
          if (Math.abs(data[i] - r) <= tol && Math.abs(data[i + 1] - g) <= tol && Math.abs(data[i + 2] - b) <= tol) near++;
        }
      }
      return near / all;
    },
    [rgb, tolerance] as const,
  );

/**
 * Mean absolute difference (0..255 per RGB channel) between the canvas, scaled in the page to each PNG's size with
 * drawImage, and that PNG: the thumbnails are 320 px wide, the canvas the desktop's full size. Lower is closer.
 */
export const differenceFromImages = (page: Page, pngs: Buffer[]) =>
  page.evaluate(async (sources) => {
    const screen = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
    if (!screen) throw new Error('no canvas');
    const pixels = (source: CanvasImageSource, w: number, h: number) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const ctx = c.getContext('2d')!;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(source, 0, 0, w, h);
      return ctx.getImageData(0, 0, w, h).data;
    };
    const out: number[] = [];
    for (const src of sources) {
      const image = new Image();
      image.src = src;
      await image.decode();
      const [w, h] = [image.naturalWidth, image.naturalHeight];
      const a = pixels(image, w, h);
      const b = pixels(screen, w, h);
      let sum = 0;
      for (let i = 0; i < a.length; i += 4) sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
      out.push(sum / (w * h * 3));
    }
    return out;
  }, pngs.map((png) => `data:image/png;base64,${png.toString('base64')}`));
