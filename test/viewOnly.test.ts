// The audience's VNC password against the real Xvnc: it watches, and every key it sends is ignored, before and
// after a checkpoint and restore of the desktop. What the keys did is read from a file an xterm writes them to.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Engine } from '../server/engine';
import type { RfbClient } from '../server/vnc/rfbClient';
import { withEngine } from './support/engineFixture';
import { connectViewer } from './support/viewer';
import { roomOf } from '../server/desktops/rooms';
import type { DesktopRecord } from '../server/desktops/records';
import { eventually } from './support/eventually';

let engine: Engine;
let dispose: () => Promise<void>;
before(async () => {
  ({ engine, dispose } = await withEngine('100-119'));
});
after(async () => dispose());

const returnKey = 0xff0d;

function pointer(client: RfbClient, x: number, y: number, buttons: number): void {
  const m = Buffer.alloc(6);
  m.writeUInt8(5, 0);
  m.writeUInt8(buttons, 1);
  m.writeUInt16BE(x, 2);
  m.writeUInt16BE(y, 4);
  client.write(m);
}

function type(client: RfbClient, text: string): void {
  for (const keysym of [...text].map((c) => c.charCodeAt(0)).concat(returnKey)) {
    for (const down of [1, 0]) {
      const m = Buffer.alloc(8);
      m.writeUInt8(4, 0);
      m.writeUInt8(down, 1);
      m.writeUInt32BE(keysym, 4);
      client.write(m);
    }
  }
}

/**
 * Types through the view-only connection, then through the control one; returns what reached the xterm. Xvnc reads
 * a connection's messages in order, so once the view connection's update request is answered its keys were taken
 * (or dropped); the X server hands a client its events in order, so any view key would land before the control's.
 */
async function typeThroughBoth(desktop: DesktopRecord, passwords: { control: string; view: string }, file: string, word: string): Promise<string> {
  const view = await connectViewer(engine.desktops, desktop, { password: passwords.view, autoRequest: false });
  const control = await connectViewer(engine.desktops, desktop, { password: passwords.control, autoRequest: false });
  try {
    pointer(view, 120, 120, 1);
    pointer(view, 120, 120, 0);
    type(view, `view${word}`);
    await view.capture(10_000);
    type(control, `ctrl${word}`);
    await eventually(async () => assert.match(await readFile(file, 'utf8').catch(() => ''), new RegExp(`ctrl${word}\\n`)), 10_000);
    assert.equal(view.closed, false, 'the view-only connection stays open: it watches');
    return readFile(file, 'utf8');
  } finally {
    view.close();
    await control.closeGracefully();
  }
}

test('a viewer with the view-only password watches, and Xvnc ignores its keys, after a restore too', async () => {
  const { desktops } = engine;
  // tee writes each line the xterm's terminal gets to the file: what was typed, and nothing else. In the desktop's
  // home (its /tmp is its own, and it may write nowhere else), read here from the home's host folder.
  const desktop = await desktops.start({ geometry: '640x480', commands: [['xterm', '-geometry', '80x24+10+10', '-e', 'tee', '/home/desktop/typed.txt']] });
  const file = path.join(roomOf(desktops.paths, desktop.id).home, 'typed.txt');
  const passwords = { control: desktop.vncPassword, view: desktop.vncViewPassword! };
  assert.match(passwords.view, /^[A-Za-z0-9]{8}$/);
  assert.notEqual(passwords.view, passwords.control);

  const watcher = await connectViewer(engine.desktops, desktop, { password: passwords.view, keepPixels: true, autoRequest: false });
  assert.deepEqual([watcher.width, watcher.height], [640, 480], 'the view-only password opens the screen');
  watcher.close();

  // Running means launched, not yet on screen: click into the xterm and type until a line arrives.
  const control = await connectViewer(engine.desktops, desktop, { password: passwords.control, autoRequest: false });
  await eventually(async () => {
    pointer(control, 120, 120, 1);
    pointer(control, 120, 120, 0);
    type(control, 'ready');
    await control.capture(5_000);
    assert.match(await readFile(file, 'utf8').catch(() => ''), /ready\n/);
  }, 30_000);
  await control.closeGracefully();
  const typedBefore = await readFile(file, 'utf8');
  assert.equal(await typeThroughBoth(desktop, passwords, file, 'one'), `${typedBefore}ctrlone\n`);

  // criu puts Xvnc back with its password file: still two passwords, still view only.
  const { checkpoint } = await desktops.checkpoint(desktop.id);
  await desktops.restore(checkpoint.id);
  assert.equal(await typeThroughBoth(desktop, passwords, file, 'two'), `${typedBefore}ctrlone\nctrltwo\n`);
});
