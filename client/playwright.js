// freezeframe/playwright: Playwright fixtures that give each test its own running copy (a clone) of one prepared
// checkpoint, removed after the test. The checkpoint is made once per worker: a desktop started as
// `freezeframeTemplate` says, brought to its state by its `prepare`, checkpointed (it stays frozen), removed with
// its checkpoints when the worker ends. A clone is a restore, not a cold start: ~0.3 s for Firefox against 1.2-1.6 s
// (docs/self-contained.md), and every clone starts from the same state.
import { test as base, expect } from '@playwright/test';
import { FreezeframeClient, FreezeframeError } from './index.js';

/**
 * Stops and removes a desktop. A desktop still busy with an operation (a test that ended mid-checkpoint) answers
 * `busy`: asked again until that operation is over, within 60 s. One already gone is fine.
 */
export async function discard(client, id) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { desktop } = await client.get(id);
      if (desktop.state !== 'stopped') await client.stop(id);
      await client.remove(id);
      return;
    } catch (error) {
      if (error instanceof FreezeframeError && error.code === 'not_found') return;
      if (!(error instanceof FreezeframeError && error.code === 'busy') || Date.now() > deadline) throw error;
      // The operation under way is a criu run of at most seconds; the lock has no event to wait on from here.
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Waits until the desktop's page shows its viewer connected; returns the screen's canvas (click it to type). */
export async function openViewer(page, url) {
  await page.goto(url);
  await expect(page.getByTestId('vnc-viewer')).toHaveAttribute('data-phase', 'connected');
  return page.locator('[data-testid="vnc-screen"] canvas');
}

export const test = base.extend({
  freezeframeUrl: [undefined, { option: true, scope: 'worker' }],
  freezeframeToken: [undefined, { option: true, scope: 'worker' }],
  freezeframeTemplate: [{ geometry: '1024x768', apps: ['xterm'] }, { option: true, scope: 'worker' }],

  freezeframe: [
    async ({ freezeframeUrl, freezeframeToken }, use) => {
      await use(new FreezeframeClient({ url: freezeframeUrl, token: freezeframeToken }));
    },
    { scope: 'worker' },
  ],

  freezeframeCheckpoint: [
    async ({ freezeframe, freezeframeTemplate, browser }, use) => {
      if (typeof freezeframeTemplate === 'string') {
        // A checkpoint prepared elsewhere: used as it is, and kept.
        await use((await freezeframe.getCheckpoint(freezeframeTemplate)).id);
        return;
      }
      // prepare is a function inside the option (a function as the option itself would be taken for a fixture).
      const { prepare, ...start } = freezeframeTemplate;
      const desktop = await freezeframe.start(start);
      try {
        if (prepare) await prepare({ client: freezeframe, desktop, browser });
        const checkpoint = await freezeframe.checkpoint(desktop.id);
        await use(checkpoint.id);
      } finally {
        await discard(freezeframe, desktop.id);
      }
    },
    { scope: 'worker', timeout: 120_000 },
  ],

  clone: async ({ freezeframe, freezeframeCheckpoint }, use) => {
    const { desktops } = await freezeframe.clone(freezeframeCheckpoint, { count: 1 });
    const desktop = desktops[0];
    const viewerUrl = freezeframe.viewerUrl(desktop.id);
    try {
      await use({ ...desktop, viewerUrl, openViewer: (page) => openViewer(page, viewerUrl) });
    } finally {
      await discard(freezeframe, desktop.id);
    }
  },
});

export { expect };
