// A desktop moved with its viewer open (issue #14 parts 2 and 5), in Chromium: two test hosts (network namespaces,
// real servers) and a real etcd on the bridge's gateway, as e2e/fleet.spec.ts. The desktop runs on host 1, its page
// is open on host 1; "Move to host..." sends it to host 2. The same page (no navigation, no reload) shows the frozen
// frame while the viewer's connection is gone, reconnects by itself (one more WebSocket, to host 1, relayed to host
// 2), and the picture moves again, served by host 2: host 1 has nothing of it running any more. Then back to host 1
// from the same page (host 1 forwards the move to host 2).
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Paths } from '../server/desktops/records';
import { roomOf } from '../server/desktops/rooms';
import type { TestHost } from '../test/support/testHosts';
import { canvasColours, installCanvasProbe } from './support/canvas';
import { DesktopPage } from './support/desktopPage';
import { expect, test } from './support/fleet';
import { LIVE_MOTION_MS } from './support/timing';

test.describe.configure({ mode: 'serial', timeout: 180_000 });

// Away from e2e/fleet.spec.ts (3551, 3564, subnets 150-169, displays 172-175) and test/move.test.ts.
const port = 3591;
test.use({
  fleetOptions: {
    subnet: 190 + Math.floor(Math.random() * 10), port, etcdPort: 3594, size: 2, started: 2, id: (n) => `h${n}`,
    displays: (n) => `${226 + n * 4}-${229 + n * 4}`,
  },
});

/** A call to a host's API as a non-browser client with its token. */
async function api<T>(host: TestHost, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${host.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  return { status: response.status, body: (await response.json()) as T };
}

interface Watch {
  /** Animation frames with neither a live picture nor the frozen frame on screen. */
  blank: number;
  /** Frames that showed the frozen frame, and whether it was the last live picture, pixel for pixel. */
  stillFrames: number;
  stillMatches?: boolean;
  /** When the frozen frame was first and last on screen (performance.now()). */
  stillFrom?: number;
  stillTo?: number;
}

declare global {
  interface Window {
    __moveWatch?: Watch;
  }
}

test('a desktop moves to host 2 with its page open on host 1: the frozen frame meanwhile, the viewer reconnects by itself, the picture moves again', async ({ page, testFleet }) => {
  const [h1, h2] = testFleet.hosts;
  await expect.poll(async () => (await api<{ fleet: { hosts: unknown[] } }>(h1, 'GET', '/api/fleet')).body.fleet.hosts.length, { message: 'both hosts in host 1\'s view' }).toBe(2);
  const started = await api<{ desktop: { id: string } }>(h1, 'POST', '/api/desktops', { host: 'h1', geometry: '800x600', apps: ['xclock'] });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const id = started.body.desktop.id;

  await installCanvasProbe(page);
  const desktop = new DesktopPage(page, id);
  await page.goto(`${h1.url}/?token=${h1.token}`);
  await page.goto(`${h1.url}/desktops/${id}`);
  // A reload or navigation would load another document (and the probe below would be gone with it); the URL stays
  // (the server action's revalidation replaces the history entry with the same URL: a same-document event).
  const documents: string[] = [];
  page.on('load', () => documents.push(page.url()));
  const url = page.url();
  await expect(desktop.viewer).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });
  await expect.poll(() => canvasColours(page), { message: 'the desktop picture appears' }).toBeGreaterThan(4);
  await desktop.expectPictureChange(await desktop.hash(), LIVE_MOTION_MS, 'the picture moves on host 1');
  const before = await desktop.counters();
  const socketsBefore = desktop.vncSockets.length;

  // Every animation frame from here: a picture on screen (noVNC's canvas once drawn, or the frozen frame under it).
  await page.evaluate(() => {
    const fnv = (c: HTMLCanvasElement) => {
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let h = 0x811c9dc5;
      for (let i = 0; i < data.length; i += 4) h = Math.imul(h ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16)), 0x01000193);
      return `${h >>> 0}@${c.width}x${c.height}`;
    };
    const watch: Watch = { blank: 0, stillFrames: 0 };
    window.__moveWatch = watch;
    let lastLive: string | undefined;
    const frame = () => {
      const live = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas');
      const still = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-still"]');
      const drawn = !!live?.width && live.getContext('2d')!.getImageData(live.width >> 1, live.height >> 1, 1, 1).data[3] !== 0;
      const stillShown = still?.dataset.shown === 'true';
      if (stillShown) {
        if (watch.stillFrames++ === 0) {
          watch.stillMatches = lastLive !== undefined && fnv(still!) === lastLive;
          watch.stillFrom = performance.now();
        }
        watch.stillTo = performance.now();
      } else if (drawn) lastLive = fnv(live!);
      if (!drawn && !stillShown) watch.blank++;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });

  // Move to host... on the page: host 2 is the one other host.
  await expect(page.getByTestId('move-host')).toHaveValue('h2');
  await page.getByTestId('move-button').click();
  await expect(page.getByTestId('move-done')).toContainText('Moved to h2', { timeout: 60_000 });

  // The source closed the viewer with 4001; it reconnected by itself, once, to the same URL on host 1.
  await expect(desktop.viewer).toHaveAttribute('data-last-close', '4001', { timeout: 30_000 });
  await expect(desktop.viewer).toHaveAttribute('data-phase', 'connected', { timeout: 30_000 });
  await expect.poll(() => canvasColours(page), { message: 'the picture is back' }).toBeGreaterThan(4);
  await desktop.expectPictureChange(await desktop.hash(), LIVE_MOTION_MS, 'the picture moves again, from host 2');
  expect(await desktop.counters()).toEqual({ phase: 'connected', websockets: before.websockets + 1, connects: before.connects + 1, disconnects: before.disconnects + 1 });
  expect(desktop.vncSockets, 'VNC WebSockets the browser opened').toHaveLength(socketsBefore + 1);
  expect(new URL(desktop.vncSockets.at(-1)!.url()).host, 'the new one to host 1 (relayed)').toBe(`${h1.address}:${port}`);
  expect(documents, 'the same page: no reload, no navigation').toEqual([]);
  expect(page.url()).toBe(url);
  await expect(desktop.banner).toHaveAttribute('data-state', 'running');

  // Meanwhile the frozen frame: never a blank screen, and the frame shown was the last picture before the move.
  const watch = await page.evaluate(() => window.__moveWatch!);
  expect(watch.stillFrames, 'the frozen frame was shown while the viewer reconnected').toBeGreaterThan(0);
  expect(watch.stillMatches, 'the frozen frame is the last picture host 1 sent').toBe(true);
  expect(watch.blank, 'frames without a picture').toBe(0);
  console.log(`moved to h2: the frozen frame shown for ${Math.round(watch.stillTo! - watch.stillFrom!)} ms (${watch.stillFrames} frames) between the viewer's close and the new connection's first picture`);

  // Served by host 2: it runs there; host 1's record says where it went and its namespace is gone.
  expect((await api<{ desktop: { state: string } }>(h2, 'GET', `/api/desktops/${id}`)).body.desktop.state).toBe('running');
  const left = JSON.parse(await readFile(path.join(h1.stateDir, 'desktops', id, 'desktop.json'), 'utf8')) as { state: string; movedTo?: { host: string } };
  expect(left.state).toBe('stopped');
  expect(left.movedTo?.host).toBe('h2');
  await expect(access(roomOf(new Paths(h1.stateDir), id).netnsPath), 'host 1 freed its namespace').rejects.toThrow();
  // Host 1's page reads the desktop from its owner; the fleet lists it on host 2.
  const read = await api<{ desktop: { state: string }; host?: string }>(h1, 'GET', `/api/desktops/${id}`);
  expect(read.body.host).toBe('h2');
  expect(read.body.desktop.state).toBe('running');
  await expect.poll(async () => (await api<{ fleet: { desktops: { id: string; host: string }[] } }>(h1, 'GET', '/api/fleet')).body.fleet.desktops.find((d) => d.id === id)?.host).toBe('h2');

  // The page's buttons go to the owner too: a Snapshot pressed on host 1's page is taken on host 2 and listed.
  // The page is live from host 2 (its events relayed): its state can say running before its read of host 2's
  // timeline lands, and a snapshot's card shows (writing) before the snapshot is complete.
  const cards = (await api<{ checkpoints: unknown[] }>(h2, 'GET', `/api/desktops/${id}`)).body.checkpoints.length;
  await expect(desktop.cards, 'host 2\'s timeline').toHaveCount(cards);
  await desktop.snapshotButton.click();
  await expect(desktop.cards.and(page.locator('[data-state="complete"]')), 'the snapshot in the timeline, complete').toHaveCount(cards + 1, { timeout: 30_000 });
  const onH2 = await api<{ checkpoints: { state: string }[] }>(h2, 'GET', `/api/desktops/${id}`);
  expect(onH2.body.checkpoints.filter((c) => c.state === 'complete')).toHaveLength(cards + 1);
  await desktop.expectPictureChange(await desktop.hash(), LIVE_MOTION_MS, 'the picture moves on after the snapshot');


  // And back from the same page, by the page server this time (the method picked on the page): Move to host... now
  // offers host 1 (the desktop runs on host 2), host 1 forwards the move to its owner with the method, and the viewer
  // follows it home, again without a reload.
  await expect(page.getByTestId('move-host')).toHaveValue('h1');
  await expect(page.getByTestId('move-method'), 'stop-and-copy unless another is picked').toHaveValue('copy');
  await page.getByTestId('move-method').selectOption('page-server');
  const socketsThere = desktop.vncSockets.length;
  const connectsThere = (await desktop.counters()).connects;
  await page.getByTestId('move-button').click();
  await expect(page.getByTestId('move-done'), 'moved by the method picked, as host 2 answered').toContainText('Moved to h1 (page server)', { timeout: 60_000 });
  await expect.poll(async () => (await desktop.counters()).connects, { message: 'the viewer reconnected', timeout: 30_000 }).toBe(connectsThere + 1);
  await expect(desktop.viewer).toHaveAttribute('data-phase', 'connected');
  await desktop.expectPictureChange(await desktop.hash(), LIVE_MOTION_MS, 'the picture moves again, from host 1');
  expect(desktop.vncSockets).toHaveLength(socketsThere + 1);
  expect(documents, 'the same page: no reload, no navigation').toEqual([]);
  const home = await api<{ desktop: { state: string; movedTo?: unknown }; host?: string }>(h1, 'GET', `/api/desktops/${id}`);
  expect(home.body.host).toBe('h1');
  expect(home.body.desktop.state).toBe('running');
  expect(home.body.desktop.movedTo).toBeUndefined();
  await expect.poll(async () => (await api<{ fleet: { desktops: { id: string; host: string }[] } }>(h2, 'GET', '/api/fleet')).body.fleet.desktops.find((d) => d.id === id)?.host).toBe('h1');

  await api(h1, 'POST', `/api/desktops/${id}/stop`, {});
});
