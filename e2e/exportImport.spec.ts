// Export, delete, import, restore: a checkpoint travels as one archive and comes back on a machine that never had
// its desktop (here: the same server, with the desktop's folder removed, as on a fresh machine set up alike).
// An archive this installation did not sign is refused, with how to trust the machine that made it.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from './fixtures';
import { LIVE_MOTION_MS } from './support/timing';

/** The archive's files without its manifest and signature, packed again as a gzip tar (as before signing and zstd). */
async function unsignedCopy(archive: string, work: string): Promise<string> {
  const dir = path.join(work, 'unpacked');
  await mkdir(dir, { recursive: true });
  execFileSync('tar', ['-C', dir, '-xf', archive]);
  await rm(path.join(dir, 'manifest.json'));
  await rm(path.join(dir, 'signature.json'));
  const file = path.join(work, 'unsigned.tar.gz');
  execFileSync('tar', ['-C', dir, '-czf', file, '.']);
  return file;
}

test('export, delete, import through the API, then restore: the page shows the desktop back', async ({ desktopPage, desktop, api, stateDir }) => {
  test.setTimeout(90_000);
  const checkpoint = await api.checkpoint(desktop.id);
  const archive = await api.exportArchive(checkpoint.id);
  expect(archive.subarray(0, 4).toString('hex'), 'zstd magic').toBe('28b52ffd');
  expect(archive.length, 'at most half its images').toBeLessThanOrEqual(checkpoint.imageBytes! / 2);
  test.info().annotations.push({ type: 'archive', description: `${archive.length} bytes for ${checkpoint.imageBytes} bytes of images` });

  await api.stop(desktop.id);
  expect(await api.deleteCheckpoint(checkpoint.id)).toBeGreaterThan(0);
  expect((await api.raw('GET', `/api/checkpoints/${checkpoint.id}`)).status()).toBe(404);
  await rm(path.join(stateDir, 'desktops', desktop.id), { recursive: true });
  expect((await api.raw('GET', `/api/desktops/${desktop.id}`)).status()).toBe(404);

  // Refused: no archive at all, multipart, an unsigned copy (422, nothing registered); then the real one, and the
  // same one twice.
  const junk = await api.raw('POST', '/api/checkpoints/import', 'not an archive', { 'Content-Type': 'application/zstd' });
  expect(junk.status()).toBe(400);
  expect((await junk.json()).error.code).toBe('invalid');
  // Only the archive's own type: a text/plain body is what another site's page could send.
  const text = await api.raw('POST', '/api/checkpoints/import', 'not an archive');
  expect(text.status()).toBe(415);
  const multipart = await desktopPage.page.request.post('/api/checkpoints/import', {
    multipart: { archive: { name: 'a.tar.zst', mimeType: 'application/zstd', buffer: archive } },
  });
  expect(multipart.status()).toBe(415);
  const signed = test.info().outputPath('signed.tar.zst');
  await mkdir(path.dirname(signed), { recursive: true });
  await writeFile(signed, archive);
  const unsigned = await desktopPage.page.request.post('/api/checkpoints/import', {
    data: await readFile(await unsignedCopy(signed, test.info().outputPath('unsigned'))),
    headers: { 'Content-Type': 'application/gzip' },
  });
  expect(unsigned.status()).toBe(422);
  expect((await unsigned.json()).error).toMatchObject({ code: 'untrusted', message: expect.stringContaining('freezeframe trust') });
  expect((await api.raw('GET', `/api/desktops/${desktop.id}`)).status(), 'nothing registered').toBe(404);
  const imported = await api.importArchive(archive);
  expect(imported.checkpoint).toMatchObject({ id: checkpoint.id, desktop: desktop.id, state: 'complete', importedAt: expect.any(String) });
  expect(imported.desktop).toMatchObject({ id: desktop.id, state: 'stopped', display: desktop.display });
  const twice = await desktopPage.page.request.post('/api/checkpoints/import', { data: archive, headers: { 'Content-Type': 'application/zstd' } });
  expect(twice.status()).toBe(409);

  // The page shows it stopped, with the imported checkpoint; the restore through the API brings it to life there.
  await desktopPage.page.goto(`/desktops/${desktop.id}`);
  await desktopPage.expectState('stopped');
  await expect(desktopPage.card(checkpoint.id)).toContainText('imported');
  const restored = await api.raw('POST', `/api/checkpoints/${checkpoint.id}/restore`);
  expect(restored.status(), await restored.text()).toBe(200);
  await desktopPage.expectState('running', 30_000);
  await expect(desktopPage.viewer).toHaveAttribute('data-phase', 'connected', { timeout: 15_000 });
  await desktopPage.expectPictureChange(await desktopPage.hash(), LIVE_MOTION_MS, 'the imported desktop moves');
  await expect(desktopPage.card(checkpoint.id).getByTestId('restore-count')).toContainText('1');
});

test('the dashboard imports an archive downloaded from the Export link; its desktop appears, stopped', async ({ desktopPage, desktop, api, stateDir }) => {
  test.setTimeout(90_000);
  const { page } = desktopPage;
  const checkpoint = await api.checkpoint(desktop.id);
  await desktopPage.page.goto(`/desktops/${desktop.id}`);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    desktopPage.card(checkpoint.id).getByRole('link', { name: `Export ${checkpoint.id}` }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`${checkpoint.id}.tar.zst`);
  const file = await download.path();

  // Off the desktop's page before its folder goes behind the server's back (the delete's event makes it reread).
  await page.goto('/');
  await api.stop(desktop.id);
  await api.deleteCheckpoint(checkpoint.id);
  await rm(path.join(stateDir, 'desktops', desktop.id), { recursive: true });

  await page.goto('/');
  await page.getByLabel('Checkpoint archive').setInputFiles(file);
  await page.getByTestId('import-form').getByRole('button', { name: /^Import/ }).click();
  await expect(page.getByTestId('import-result')).toContainText(checkpoint.id);
  await page.getByText(/^Stopped desktops/).click();
  const row = page.locator(`tr[data-desktop="${desktop.id}"]`);
  await expect(row.getByTestId('state-badge')).toHaveAttribute('data-state', 'stopped');

  await page.getByTestId('import-result').getByRole('link', { name: desktop.id }).click();
  await desktopPage.expectState('stopped');
  await desktopPage.restoreFromTimeline(checkpoint.id, { confirm: false });
  await desktopPage.expectState('running', 30_000);
  await expect(desktopPage.viewer).toHaveAttribute('data-phase', 'connected', { timeout: 15_000 });
});
