// Inspecting a checkpoint: its images hold Xvnc with its command line and its listening VNC socket.
import { expect, test } from './fixtures';

test('inspect shows Xvnc with its command line and the listening VNC port', async ({ desktopPage, desktop, api }) => {
  const { page } = desktopPage;
  const checkpoint = await api.checkpoint(desktop.id);

  const inspection = await api.inspect(checkpoint.id);
  const xvnc = inspection.processes.find((p) => p.comm === 'Xvnc');
  expect(xvnc, `processes: ${inspection.processes.map((p) => p.comm).join(', ')}`).toBeDefined();
  expect(xvnc!.cmdline).toContain(`:${desktop.display}`);
  expect(xvnc!.vmaBytes).toBeGreaterThan(xvnc!.dumpedBytes);
  expect(xvnc!.dumpedBytes).toBeGreaterThan(0);
  const listening = `listen 127.0.0.1:${desktop.vncPort}`;
  expect(inspection.sockets.map((s) => s.description)).toContain(listening);
  expect(xvnc!.fds.map((fd) => fd.target)).toContain(listening);

  // The page: from the timeline's Inspect link (the desktop is frozen: no picture to wait for).
  await page.goto(`/desktops/${desktop.id}`);
  await desktopPage.card(checkpoint.id).getByRole('link', { name: `Inspect ${checkpoint.id}` }).click();
  await expect(page).toHaveURL(new RegExp(`/checkpoints/${checkpoint.id}$`));
  const row = page.locator('[data-testid="processes"] tr[data-comm="Xvnc"]');
  await expect(row.getByTestId('cmdline')).toContainText(`Xvnc :${desktop.display}`);
  await expect(row.getByTestId('cmdline')).toContainText('-interface 127.0.0.1');
  await expect(row).toContainText('MiB');
  await expect(page.getByTestId('sockets')).toContainText(listening);
  await expect(page.locator('[data-testid="processes"] tbody tr')).toHaveCount(inspection.processes.length);

  // Unknown and malformed ids.
  expect((await api.raw('GET', '/api/checkpoints/c-00000000/inspect')).status()).toBe(404);
  expect((await api.raw('GET', '/api/checkpoints/nope/inspect')).status()).toBe(400);
  expect((await api.raw('GET', '/api/checkpoints/c-00000000/thumbnail')).status()).toBe(404);
});
