// freezeframe/playwright as a test suite uses it: each test gets its own clone of one prepared checkpoint (an xterm
// whose typed lines go to a file in the desktop's home), types into it through its page, and sees no other test's
// words; the clone is gone after its test. Imported by the package's own names, as a user's suite imports them.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { mergeTests, type Locator, type Page } from '@playwright/test';
import { FreezeframeError } from 'freezeframe/client';
import { test as freezeframeTest, expect, openViewer } from 'freezeframe/playwright';
import { test as e2eTest } from './fixtures';

const test = mergeTests(e2eTest, freezeframeTest);

/** What the desktop's xterm wrote to its home (the server's state folder, as playwright.config.ts names it). */
const typedIn = (id: string) => readFile(path.join(process.env.FREEZEFRAME_E2E_STATE_DIR!, 'desktops', id, 'home', 'typed'), 'utf8').catch(() => '');

/** Clicks the xterm and types the line until the xterm's tee has written it (the first click may land before its window). */
async function typeInto(page: Page, screen: Locator, id: string, line: string): Promise<void> {
  await expect
    .poll(async () => {
      await screen.click({ position: { x: 100, y: 100 } });
      await page.keyboard.type(`${line}\n`);
      return typedIn(id);
    }, { message: `the xterm of ${id} takes the page's keys`, timeout: 30_000 })
    .toContain(`${line}\n`);
}

test.use({
  freezeframeUrl: `http://127.0.0.1:${process.env.FREEZEFRAME_E2E_PORT ?? 3100}`,
  // tee writes each line the xterm gets into the home: a clone's home is an overlay of its own.
  freezeframeTemplate: {
    geometry: '800x600',
    apps: ['xclock'],
    commands: [['xterm', '-geometry', '80x24+10+10', '-e', 'tee', '/home/desktop/typed']],
    // Every clone starts from here: a line typed into the prepared desktop through a page of its own.
    prepare: async ({ client, desktop, browser }) => {
      const page = await browser.newPage();
      try {
        await typeInto(page, await openViewer(page, client.viewerUrl(desktop.id)), desktop.id, 'prepared');
      } finally {
        await page.close();
      }
    },
  },
});
// In order: the second test looks for the first one's clone and words.
test.describe.configure({ mode: 'serial' });

const earlier: { id: string; words: string }[] = [];

for (const words of ['typed-in-the-first-clone', 'typed-in-the-second-clone']) {
  // `clone` before `page`: the page closes first, then the clone is removed (no viewer sees its desktop go).
  test(`a test's own clone: "${words}" reaches it and no other`, async ({ clone, page, freezeframe, freezeframeCheckpoint, stateDir }) => {
    const prepared = await readFile(path.join(stateDir, 'checkpoints', freezeframeCheckpoint, 'home-base', 'typed'), 'utf8');
    expect(prepared).toMatch(/^(prepared\n)+$/);
    expect(clone.state).toBe('running');
    expect(clone.homeBase, 'a clone of the prepared checkpoint').toBe(freezeframeCheckpoint);
    for (const other of earlier) {
      expect(clone.id).not.toBe(other.id);
      // The earlier test's clone was removed after it: the client says so, typed.
      const gone = await freezeframe.get(other.id).catch((error: unknown) => error);
      expect(gone).toBeInstanceOf(FreezeframeError);
      expect(gone).toMatchObject({ code: 'not_found', status: 404 });
    }
    // It starts from the prepared state, and nothing typed in another clone reached it.
    expect(await typedIn(clone.id)).toBe(prepared);

    const screen = await clone.openViewer(page);
    await expect(screen).toBeVisible();
    await typeInto(page, screen, clone.id, words);
    // Only this test's words after the prepared ones, and the prepared checkpoint's home untouched.
    expect(await typedIn(clone.id)).toMatch(new RegExp(`^${prepared}(${words}\\n)+$`));
    expect(await readFile(path.join(stateDir, 'checkpoints', freezeframeCheckpoint, 'home-base', 'typed'), 'utf8')).toBe(prepared);
    earlier.push({ id: clone.id, words });
  });
}
