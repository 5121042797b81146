// freezeframe/playwright as a test suite uses it: each test gets its own clone of one prepared checkpoint (an xterm
// whose typed lines go to a file in the desktop's home), types into it through its page, and sees no other test's
// words; the clone is gone after its test. Imported by the package's own names, as a user's suite imports them.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { mergeTests } from '@playwright/test';
import { FreezeframeError } from 'freezeframe/client';
import { test as freezeframeTest, expect } from 'freezeframe/playwright';
import { test as e2eTest } from './fixtures';

const test = mergeTests(e2eTest, freezeframeTest);

test.use({
  freezeframeUrl: `http://127.0.0.1:${process.env.FREEZEFRAME_E2E_PORT ?? 3100}`,
  // tee writes each line the xterm gets into the home: a clone's home is an overlay of its own.
  freezeframeTemplate: { geometry: '800x600', apps: ['xclock'], commands: [['xterm', '-geometry', '80x24+10+10', '-e', 'tee', '/home/desktop/typed']] },
});
// In order: the second test looks for the first one's clone and words.
test.describe.configure({ mode: 'serial' });

const earlier: { id: string; words: string }[] = [];

for (const words of ['typed-in-the-first-clone', 'typed-in-the-second-clone']) {
  // `clone` before `page`: the page closes first, then the clone is removed (no viewer sees its desktop go).
  test(`a test's own clone: "${words}" reaches it and no other`, async ({ clone, page, freezeframe, freezeframeCheckpoint, stateDir }) => {
    const typed = (id: string) => readFile(path.join(stateDir, 'desktops', id, 'home', 'typed'), 'utf8').catch(() => '');
    expect(clone.state).toBe('running');
    expect(clone.homeBase, 'a clone of the prepared checkpoint').toBe(freezeframeCheckpoint);
    for (const other of earlier) {
      expect(clone.id).not.toBe(other.id);
      // The earlier test's clone was removed after it: the client says so, typed.
      const gone = await freezeframe.get(other.id).catch((error: unknown) => error);
      expect(gone).toBeInstanceOf(FreezeframeError);
      expect(gone).toMatchObject({ code: 'not_found', status: 404 });
    }
    // Nothing typed anywhere reached this clone: it starts from the checkpoint's home.
    expect(await typed(clone.id)).toBe('');

    const screen = await clone.openViewer(page);
    await expect(screen).toBeVisible();
    await expect
      .poll(async () => {
        await screen.click({ position: { x: 100, y: 100 } });
        await page.keyboard.type(`${words}\n`);
        return typed(clone.id);
      }, { message: 'the clone\'s xterm takes the page\'s keys', timeout: 30_000 })
      .toContain(`${words}\n`);
    // Only this test's words, and the prepared checkpoint's home untouched.
    expect(await typed(clone.id)).toMatch(new RegExp(`^(${words}\\n)+$`));
    expect(await readFile(path.join(stateDir, 'checkpoints', freezeframeCheckpoint, 'home-base', 'typed'), 'utf8')).toBe('');
    earlier.push({ id: clone.id, words });
  });
}
