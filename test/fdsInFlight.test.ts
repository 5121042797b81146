// A dump that meets a file passed over a unix socket and not yet received (SCM_RIGHTS in the queue) tries again
// (criu --refuse-fds-in-flight, scripts/criu-patches/0005: a Firefox checkpoint that caught its IPC's memfd in
// flight lost Firefox on every restore); a file that stays in flight is dumped with it by the last attempt, as criu
// does, and received after the restore.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { roomOf } from '../server/desktops/rooms';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

// A memfd passed from one end of a socketpair to the other, received only once ~/receive appears; then what came
// (the message and the file's content) is written to ~/received. (A command's arguments hold no line break: the
// program goes to exec() on one line.)
const program = `
import os, socket, time
home = os.environ['HOME']
a, b = socket.socketpair()
fd = os.memfd_create('in-flight')
os.write(fd, b'passed along')
socket.send_fds(a, [b'message'], [fd])
os.close(fd)
open(home + '/sent', 'w').close()
while not os.path.exists(home + '/receive'):
    time.sleep(0.05)
msg, fds, _, _ = socket.recv_fds(b, 64, 1)
os.lseek(fds[0], 0, 0)
open(home + '/received', 'w').write(msg.decode() + ' ' + os.read(fds[0], 64).decode())
time.sleep(1e9)
`;
const oneLine = `exec("${program.trim().replace(/\n/g, '\\n')}")`;

describe('a dump meeting a file in flight', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('265-269')));
  after(async () => dispose());

  test('the dump refuses it and tries again; one that stays is dumped by the last attempt and received after the restore', { timeout: 120_000 }, async () => {
    assert.ok(engine.config.refuseFdsInFlight, `${engine.config.criuPath} lacks scripts/criu-patches/0005-dump-refuse-fds-in-flight.patch: run scripts/install.sh (it rebuilds vendor/criu)`);
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: [], commands: [['/usr/bin/python3', '-c', oneLine]] });
    const home = roomOf(desktops.paths, desktop.id).home;
    await eventually(() => readFile(path.join(home, 'sent')), 20_000);
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    assert.equal(checkpoint.state, 'complete');
    // Attempts 1 and 2 refused the queue; the third (the last) took the file in flight.
    assert.equal(checkpoint.retried?.length, 2, `tried again twice: ${checkpoint.retried?.join(' | ') ?? 'not at all'}`);
    for (const reason of checkpoint.retried!) assert.match(reason, /has files in-flight/);
    const restored = await desktops.restore(checkpoint.id);
    assert.equal(restored.desktop.state, 'running');
    await writeFile(path.join(home, 'receive'), '');
    await eventually(async () => assert.equal(await readFile(path.join(home, 'received'), 'utf8'), 'message passed along'), 20_000);
    await desktops.stop(desktop.id);
  });
});
