// The fleet over TLS in Chromium (issue #14): two test hosts serving HTTPS (certificates of a throwaway CA, SAN:
// their addresses; FREEZEFRAME_FLEET_CA on both), an https etcd. Host 1's dashboard over https places a desktop on
// host 2; its page opens on host 1 and noVNC's wss:// (the page's own origin: CSP 'self') is relayed over TLS to host
// 2: the picture moves. The browser is told to accept the test CA's certificates (it has no way to trust a CA here).
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { loadFleetTrust, peerFetch } from '../server/fleet/peerCall';
import { eventually } from '../test/support/eventually';
import { startEtcd, type TestEtcd } from '../test/support/etcd';
import { makeCa, type TestCa } from '../test/support/testCa';
import { makeNetwork, startHost, type TestHost, type TestNetwork } from '../test/support/testHosts';
import { canvasColours, canvasHash, installCanvasProbe } from './support/canvas';

test.describe.configure({ mode: 'serial', timeout: 120_000 });
test.use({ ignoreHTTPSErrors: true });

const port = 3662;
const subnet = 190 + Math.floor(Math.random() * 10);
let network: TestNetwork;
let etcd: TestEtcd;
let ca: TestCa;
let keyDir: string;
const hosts: TestHost[] = [];

test.beforeAll(async () => {
  test.setTimeout(120_000);
  network = await makeNetwork(subnet);
  ca = await makeCa('fleet');
  const trust = loadFleetTrust({ FREEZEFRAME_FLEET_CA: ca.caFile });
  etcd = await startEtcd({ port: 3670, gateway: network.gateway, tls: { ...(await ca.issue('etcd', [network.gateway, '127.0.0.1'])), trust } });
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-e2e-fleetkey-'));
  const keyFile = path.join(keyDir, 'fleet.key');
  await writeFile(keyFile, randomBytes(24).toString('base64url'));
  await chmod(keyFile, 0o600);
  for (const n of [1, 2]) {
    const address = `10.213.${network.subnet}.${n + 1}`;
    const cert = await ca.issue(`h${n}`, [address]);
    hosts.push(await startHost(network, n, {
      port,
      displays: `${182 + n * 2}-${183 + n * 2}`,
      env: {
        FREEZEFRAME_ETCD: etcd.url,
        FREEZEFRAME_HOST_ID: `h${n}`,
        FREEZEFRAME_PUBLIC_URL: `https://${address}:${port}`,
        FREEZEFRAME_FLEET_KEY_FILE: keyFile,
        FREEZEFRAME_TLS_CERT: cert.cert,
        FREEZEFRAME_TLS_KEY: cert.key,
        FREEZEFRAME_FLEET_CA: ca.caFile,
        // Next.js fetches a server action's redirect target from its own origin with Node's trust: a private CA there
        // too, as README says (without it the redirect still works, one round trip later, with an error logged).
        NODE_EXTRA_CA_CERTS: ca.caFile,
        // The test seam of server/fleet/hostInfo.ts: host 2 has more free memory.
        FREEZEFRAME_TEST_MEM_AVAILABLE: String(n * 4 * 1024 ** 3),
      },
    }));
  }
  // The fleet formed (each host's lease in etcd, read back by the other) before any page opens: a host joins once it
  // listens, a moment after startHost returns (in CI once, host 1's page still showed one host 10 s after it opened).
  for (const host of hosts) {
    await eventually(async () => {
      const response = await peerFetch(`${host.url}/api/fleet`, { headers: { Authorization: `Bearer ${host.token}` }, trust, timeoutMs: 10_000 });
      const { fleet } = (await response.json()) as { fleet: { fresh: boolean; hosts: { id: string }[] } };
      expect(fleet.hosts.map((h) => h.id), `the fleet as ${host.url} sees it`).toEqual(['h1', 'h2']);
      expect(fleet.fresh, 'its view is fresh').toBe(true);
    }, 30_000);
  }
});

test.afterAll(async () => {
  for (const h of hosts) await h.stop().catch(() => {});
  await etcd?.dispose();
  await network?.dispose();
  await ca?.dispose();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

test('over https: a desktop started from host 1\'s dashboard runs on host 2 and its picture moves through host 1 (wss, relayed over TLS)', async ({ page }) => {
  const [h1] = hosts;
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
