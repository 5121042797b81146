// Clones in Chromium: the timeline card's Clone opens a new desktop restored from the checkpoint; a second clone
// from the API; what is typed in one clone's page shows in no other (each has its own home, an overlay).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from './fixtures';
import { installCanvasProbe } from './support/canvas';
import { DesktopPage } from './support/desktopPage';
import { startWithCommands } from './support/presenterPage';

test('Clone on a checkpoint opens an independent desktop; typing in one clone reaches no other', async ({ page, request, adopt, api, stateDir }) => {
  test.setTimeout(120_000);
  // tee writes each line the xterm gets to a file in the desktop's home: each clone has its own (an overlay).
  const desktop = await startWithCommands(request, { geometry: '800x600', apps: ['xclock'], commands: [['xterm', '-geometry', '80x24+10+10', '-e', 'tee', '/home/desktop/typed']] });
  adopt(desktop.id);
  const typedIn = (id: string) => readFile(path.join(stateDir, 'desktops', id, 'home', 'typed'), 'utf8').catch(() => '');
  await installCanvasProbe(page);
  const original = new DesktopPage(page, desktop.id);
  await original.open();
  const checkpoint = await api.checkpoint(desktop.id);

  // The page's Clone: a new desktop, opened at once, its picture moving.
  await original.card(checkpoint.id).getByRole('button', { name: `Clone ${checkpoint.id}` }).click();
  await page.waitForURL((url) => /^\/desktops\/d-[0-9a-f]{8}$/.test(url.pathname) && !url.pathname.endsWith(desktop.id));
  const a = page.url().split('/').at(-1)!;
  adopt(a);
  const pageA = new DesktopPage(page, a);
  await pageA.expectState('running');
  await pageA.expectPictureChange(await pageA.hash(), 10_000, 'the clone\'s clock moves');

  // A second clone, from the API: 201 with the new desktops, no password in them.
  const response = await request.post(`/api/checkpoints/${checkpoint.id}/clone`, { data: { count: 1 } });
  expect(response.status()).toBe(201);
  const body = await response.json();
  expect(body.desktops).toHaveLength(1);
  expect(body.desktops[0].vncPassword).toBeUndefined();
  const b = body.desktops[0].id as string;
  adopt(b);

  // Typed into a's page: only a's home gets it.
  await expect
    .poll(async () => {
      await pageA.clickScreenAt(200, 150);
      await page.keyboard.type('from-a\n');
      return typedIn(a);
    }, { message: 'the clone\'s xterm takes keys', timeout: 30_000 })
    .toContain('from-a\n');
  expect(await typedIn(b), 'the other clone').not.toContain('from-a');
  expect(await typedIn(desktop.id), 'the original').not.toContain('from-a');

  // And b's page shows b, moving, its own xterm untouched by a's keys.
  const pageB = new DesktopPage(page, b);
  await pageB.open();
  await pageB.expectPictureChange(await pageB.hash(), 10_000, 'the second clone\'s clock moves');
});
