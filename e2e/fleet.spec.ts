// The fleet in Chromium (issue #14): two test hosts (network namespaces, real servers), a real etcd on the bridge's
// gateway. On host 1's dashboard the start form places the desktop on host 2 (more free memory); its page opens on
// host 1 and the picture moves through host 1's relay; the fleet table lists it with its host; with etcd stopped
// the dashboard says the fleet view is stale and comes back fresh.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { startEtcd, type TestEtcd } from '../test/support/etcd';
import { makeNetwork, startHost, type TestHost, type TestNetwork } from '../test/support/testHosts';
import { canvasColours, canvasHash, installCanvasProbe } from './support/canvas';

test.describe.configure({ mode: 'serial', timeout: 120_000 });

const port = 3551;
const subnet = 150 + Math.floor(Math.random() * 20);
let network: TestNetwork;
let etcd: TestEtcd;
let keyDir: string;
const hosts: TestHost[] = [];

test.beforeAll(async () => {
  test.setTimeout(120_000);
  network = await makeNetwork(subnet);
  etcd = await startEtcd({ port: 3564, gateway: network.gateway });
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-e2e-fleetkey-'));
  const keyFile = path.join(keyDir, 'fleet.key');
  await writeFile(keyFile, randomBytes(24).toString('base64url'));
  await chmod(keyFile, 0o600);
  for (const n of [1, 2]) {
    hosts.push(await startHost(network, n, {
      port,
      displays: `${170 + n * 2}-${171 + n * 2}`,
      env: {
        FREEZEFRAME_ETCD: etcd.url,
        FREEZEFRAME_HOST_ID: `h${n}`,
        FREEZEFRAME_PUBLIC_URL: `http://10.213.${network.subnet}.${n + 1}:${port}`,
        FREEZEFRAME_FLEET_KEY_FILE: keyFile,
        // The test seam of server/fleet/hostInfo.ts: host 2 has more free memory.
        FREEZEFRAME_TEST_MEM_AVAILABLE: String(n * 4 * 1024 ** 3),
      },
    }));
  }
});

test.afterAll(async () => {
  for (const h of hosts) await h.stop().catch(() => {});
  await etcd?.dispose();
  await network?.dispose();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

test('a desktop started from host 1\'s dashboard runs on host 2 and is watched through host 1; the view says when etcd is gone', async ({ page }) => {
  const [h1] = hosts;
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
