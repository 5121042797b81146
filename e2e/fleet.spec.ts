// The fleet in Chromium (issue #14): two test hosts (network namespaces, real servers), a real etcd on the bridge's
// gateway. On host 1's dashboard the start form places the desktop on host 2 (more free memory); its page opens on
// host 1 and the picture moves through host 1's relay; the fleet table lists it with its host; with etcd stopped
// the dashboard says the fleet view is stale and comes back fresh.
import { canvasColours, canvasHash, installCanvasProbe } from './support/canvas';
import { expect, test } from './support/fleet';

test.describe.configure({ mode: 'serial', timeout: 120_000 });

const port = 3551;
test.use({
  fleetOptions: {
    subnet: 150 + Math.floor(Math.random() * 20), port, etcdPort: 3564, size: 2, started: 2, id: (n) => `h${n}`,
    displays: (n) => `${170 + n * 2}-${171 + n * 2}`,
    // The test seam of server/fleet/hostInfo.ts: host 2 has more free memory.
    memory: (n) => n * 4 * 1024 ** 3,
  },
});

test('a desktop started from host 1\'s dashboard runs on host 2 and is watched through host 1; the view says when etcd is gone', async ({ page, testFleet }) => {
  const [h1] = testFleet.hosts;
  const { etcd } = testFleet;
  await installCanvasProbe(page);
  // The token in the URL once, traded for the cookie (as the server's banner prints it).
  await page.goto(`${h1.url}/?token=${h1.token}`);
  const fleet = page.getByTestId('fleet');
  await expect(fleet.getByTestId('fleet-hosts').locator('li')).toHaveCount(2);
  await expect(fleet).toHaveAttribute('data-fresh', 'true');

  // The form's default host: the one with the most free memory.
  await page.getByRole('button', { name: 'Start desktop' }).click();
  await page.waitForURL(/\/desktops\/d-[0-9a-f]+$/, { timeout: 60_000 });
  const id = new URL(page.url()).pathname.split('/').pop()!;
  expect(new URL(page.url()).host, 'still on host 1').toBe(`${h1.address}:${port}`);

  // The page of host 2's desktop, from host 1: noVNC connects (relayed) and the picture moves (xclock's second hand).
  const viewer = page.getByTestId('vnc-viewer');
  await expect(viewer).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });
  await expect.poll(() => canvasColours(page), { message: 'the desktop picture appears' }).toBeGreaterThan(4);
  const before = await canvasHash(page);
  await expect.poll(() => canvasHash(page), { message: 'the picture moves through the relay', timeout: 10_000, intervals: [100] }).not.toBe(before);

  // The dashboard's fleet table: that desktop, on h2.
  await page.goto(`${h1.url}/`);
  const row = page.locator(`[data-testid="fleet-desktop"][data-desktop="${id}"]`);
  await expect(row).toHaveAttribute('data-host', 'h2');
  await expect(row.getByTestId('state-badge')).toHaveAttribute('data-state', 'running');

  // etcd gone: the banner; back: gone again (the dashboard reads the view every 2 s).
  await etcd.stop();
  try {
    await expect(page.getByTestId('fleet-stale')).toBeVisible({ timeout: 15_000 });
    await expect(row, 'the last view stays listed').toBeVisible();
  } finally {
    await etcd.start();
  }
  await expect(page.getByTestId('fleet-stale')).toBeHidden({ timeout: 20_000 });
  await expect(fleet).toHaveAttribute('data-fresh', 'true');
});
