// When the VNC connection behind the bridge is lost (close code 4001), the viewer reconnects by itself and says so.
import { execFileSync } from 'node:child_process';
import { expect, test } from './fixtures';
import { LIVE_MOTION_MS } from './support/timing';
import { netCommand } from '../test/support/xDisplay';

test('the viewer reconnects by itself when the VNC connection is lost', async ({ desktopPage, desktop }) => {
  await desktopPage.open();
  const before = await desktopPage.counters();
  const socketsBefore = desktopPage.vncSockets.length;

  // Destroy the bridge's TCP connection to Xvnc (the sockets whose far end is the desktop's VNC port), as a
  // crashed network path would; the desktop itself keeps running.
  // (In a contained desktop's own network namespace, where the bridge's socket is made.)
  execFileSync(...netCommand(desktop.id, 'ss', ['-K', 'dst', '127.0.0.1', 'dport', '=', String(desktop.vncPort)]), { stdio: 'pipe' });

  const notice = desktopPage.page.getByTestId('viewer-notice');
  await expect(notice).toContainText('Reconnected');
  await expect(desktopPage.viewer).toHaveAttribute('data-last-close', '4001');
  expect(await desktopPage.counters()).toEqual({
    phase: 'connected',
    websockets: before.websockets + 1,
    connects: before.connects + 1,
    disconnects: before.disconnects + 1,
  });
  expect(desktopPage.vncSockets, 'VNC WebSockets the browser opened').toHaveLength(socketsBefore + 1);
  await desktopPage.expectState('running');
  await desktopPage.expectPictureChange(await desktopPage.hash(), LIVE_MOTION_MS, 'the picture moves on the new connection');
});
