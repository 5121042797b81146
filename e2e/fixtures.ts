// Test fixtures that own their resources: a desktop started through the API and stopped after the test, whatever
// happened; the desktop page with its canvas probe; the state dir the server under test uses.
import { test as base, expect } from '@playwright/test';
import type { DesktopRecord } from '../server/desktops/records';
import { Api } from './support/api';
import { installCanvasProbe } from './support/canvas';
import { DesktopPage } from './support/desktopPage';

interface Fixtures {
  /** The apps the `desktop` fixture starts; xclock -update 1 is what makes the picture move every second. */
  desktopApps: string[];
  api: Api;
  desktop: DesktopRecord;
  desktopPage: DesktopPage;
  /** Desktops a test starts by other means (the dashboard form): stopped after the test. */
  adopt: (id: string) => void;
  stateDir: string;
}

export const test = base.extend<Fixtures>({
  // Any uncaught exception or console error in the page (a hydration mismatch, a failed chunk) fails the test.
  // Except a refused WebSocket handshake: the browser logs it by itself, the viewer retries it, and the tests that
  // care about the connection count its WebSockets and disconnects. And noVNC's "Got data while in an invalid
  // state": a viewer unmounted (the page left) while noVNC was drawing a frame calls disconnect(), and noVNC's own
  // display-flush promise then resumes reading the bytes already queued (core/rfb.js, _normalMsg) and logs it; or,
  // once the socket has closed, "Got data while disconnected" (_handleMessage) for the same bytes: seen when the
  // fixture stopped a desktop whose clip (the mpv preset) kept its viewer's queue full, at load 17.
  page: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      if (/^WebSocket connection to '.*\/vnc' failed|^Got data while (in an invalid state|disconnected)$/.test(message.text())) console.warn(`[e2e] ${message.text()}`);
      else problems.push(`console.error: ${message.text()}`);
    });
    await use(page);
    expect(problems, 'errors in the page').toEqual([]);
  },

  desktopApps: [['xclock'], { option: true }],

  api: async ({ request }, use) => {
    await use(new Api(request));
  },

  stateDir: async ({}, use) => {
    const dir = process.env.FREEZEFRAME_E2E_STATE_DIR;
    if (!dir) throw new Error('FREEZEFRAME_E2E_STATE_DIR is unset: run through playwright.config.ts');
    await use(dir);
  },

  desktop: async ({ api, desktopApps }, use) => {
    const desktop = await api.start({ geometry: '800x600', apps: desktopApps });
    try {
      await use(desktop);
    } finally {
      await api.stop(desktop.id);
    }
  },

  adopt: async ({ api }, use) => {
    const adopted: string[] = [];
    await use((id) => adopted.push(id));
    for (const id of adopted) await api.stop(id);
  },

  desktopPage: async ({ page, desktop }, use) => {
    await installCanvasProbe(page);
    await use(new DesktopPage(page, desktop.id));
  },
});

export { expect };
