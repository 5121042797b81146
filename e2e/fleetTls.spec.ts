// The fleet over TLS in Chromium (issue #14): two test hosts serving HTTPS (certificates of a throwaway CA, SAN:
// their addresses; FREEZEFRAME_FLEET_CA on both), an https etcd. Host 1's dashboard over https places a desktop on
// host 2; its page opens on host 1 and noVNC's wss:// (the page's own origin: CSP 'self') is relayed over TLS to host
// 2: the picture moves. The browser is told to accept the test CA's certificates (it has no way to trust a CA here).
import { canvasColours, canvasHash, installCanvasProbe } from './support/canvas';
import { expect, test } from './support/fleet';

test.describe.configure({ mode: 'serial', timeout: 120_000 });
test.use({ ignoreHTTPSErrors: true });

const port = 3662;
test.use({
  fleetOptions: {
    subnet: 190 + Math.floor(Math.random() * 10), port, etcdPort: 3670, size: 2, started: 2, id: (n) => `h${n}`,
    displays: (n) => `${182 + n * 2}-${183 + n * 2}`,
    // NODE_EXTRA_CA_CERTS: Next.js fetches a server action's redirect target from its own origin with Node's trust.
    tls: { nodeExtraCaCerts: true },
    // The test seam of server/fleet/hostInfo.ts: host 2 has more free memory.
    memory: (n) => n * 4 * 1024 ** 3,
  },
});

test('over https: a desktop started from host 1\'s dashboard runs on host 2 and its picture moves through host 1 (wss, relayed over TLS)', async ({ page, testFleet }) => {
  const [h1] = testFleet.hosts;
  expect(h1.url).toMatch(/^https:/);
  await installCanvasProbe(page);
  // The token once, traded for the (Secure) cookie.
  await page.goto(`${h1.url}/?token=${h1.token}`);
  const fleet = page.getByTestId('fleet');
  await expect(fleet.getByTestId('fleet-hosts').locator('li')).toHaveCount(2);
  await page.getByRole('button', { name: 'Start desktop' }).click();
  await page.waitForURL(/\/desktops\/d-[0-9a-f]+$/, { timeout: 60_000 });
  expect(new URL(page.url()).origin, 'still host 1, over https').toBe(`https://${h1.address}:${port}`);
  const viewer = page.getByTestId('vnc-viewer');
  await expect(viewer).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });
  await expect.poll(() => canvasColours(page), { message: 'the desktop picture appears' }).toBeGreaterThan(4);
  const before = await canvasHash(page);
  await expect.poll(() => canvasHash(page), { message: 'the picture moves through the relay', timeout: 10_000, intervals: [100] }).not.toBe(before);
  const id = new URL(page.url()).pathname.split('/').pop()!;
  await page.goto(`${h1.url}/`);
  await expect(page.locator(`[data-testid="fleet-desktop"][data-desktop="${id}"]`)).toHaveAttribute('data-host', 'h2');
});
