// The engine against the real programs: newns + Xvnc + icewm + apps, dumped and restored by criu 4.2.
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import type { DesktopEvent } from '../server/desktops/events';
import { FreezeframeError } from '../server/errors';
import { identify, treePids } from '../server/desktops/processes';
import { followOtherProcesses } from '../server/desktops/recordFollower';
import { RfbClient } from '../server/vnc/rfbClient';
import { withEngine } from './support/engineFixture';
import { readLog } from '../server/storage/logs';
import { connectViewer, lockRules } from './support/viewer';
import { listCriuRules } from '../server/desktops/cleanup';
import { eventually } from './support/eventually';

// xclock ticks once a second, so a live desktop sends an update at least that often; a frozen one must stay
// silent over a window longer than that. Observing silence needs a window: this is it, not a wait for a state.
const silenceWindowMs = 2_500;
/** Each process's nice (/proc/PID/stat field 19). */
const nices = (pids: number[]) => Promise.all(pids.map(async (pid) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}));
const updateDeadlineMs = 10_000;

function expectCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof FreezeframeError, `expected a FreezeframeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

const expectedPrograms = ['Xvnc', 'desktop.sh', 'icewm', 'xclock', 'xterm'];
/** The long-lived programs of a tree, by name (transient helpers, like a shell starting up, left out). */
async function programs(pids: number[]): Promise<string[]> {
  const names = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/comm`, 'utf8').then((c) => c.trim(), () => '')));
  return [...new Set(names.filter((n) => expectedPrograms.includes(n)))].sort();
}

async function silentFor(client: RfbClient, ms: number): Promise<number> {
  const before = client.updates;
  await new Promise((r) => setTimeout(r, ms));
  return client.updates - before;
}

describe('a desktop under checkpoint and restore', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('20-29')));
  after(async () => dispose());

  test('start, checkpoint, restore over the same TCP connection, twice, then the first checkpoint again', async () => {
    const { desktops, config } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xterm', 'xclock'] });
    assert.equal(desktop.state, 'running');
    assert.equal(desktop.vncPort, 5900 + desktop.display);
    await assert.rejects(connectViewer(engine.desktops, desktop), /None not offered/, 'no viewer without the password');
    await assert.rejects(connectViewer(engine.desktops, desktop, { password: 'wrong123' }), /security failed/);
    const client = await connectViewer(engine.desktops, desktop, { password: desktop.vncPassword });
    assert.deepEqual([client.width, client.height], [640, 480]);
    await client.nextUpdate(updateDeadlineMs);
    await client.nextUpdate(updateDeadlineMs); // the clock ticks: updates keep coming

    // The apps were launched; each one may still be between fork and exec.
    const pids = await eventually(async () => {
      const tree = await treePids(desktop.pid!);
      assert.deepEqual(await programs(tree), expectedPrograms);
      return tree;
    });

    const first = await desktops.checkpoint(desktop.id);
    assert.equal(first.desktop.state, 'checkpointed');
    assert.equal(first.checkpoint.state, 'complete');
    for (const pid of pids) assert.equal(await identify(pid), undefined, `process ${pid} should be gone`);
    assert.equal(await silentFor(client, silenceWindowMs), 0, 'a frozen desktop sent updates');
    const dir = path.join(config.stateDir, 'checkpoints', first.checkpoint.id);
    const images = await readdir(path.join(dir, 'images'));
    assert.ok(images.includes('inventory.img') && images.includes('pstree.img'), `images: ${images}`);
    // Gzipped once sealed (storage/logs.ts), read as text.
    assert.match((await readLog(path.join(dir, 'dump.log')))!.trimEnd(), /Dumping finished successfully$/);
    assert.ok(first.checkpoint.imageBytes! > 1_000_000, `image size ${first.checkpoint.imageBytes}`);
    assert.equal(first.checkpoint.thumbnail, true);
    const png = await readFile(path.join(dir, 'thumbnail.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [320, 240], 'the 640x480 screen, scaled to 320 wide');
    const inside = await desktops.inspect(first.checkpoint.id);
    const xvnc = inside.processes.find((p) => p.comm === 'Xvnc')!;
    assert.deepEqual(xvnc.cmdline.slice(0, 2), ['Xvnc', `:${desktop.display}`], 'command lines come from the dumped memory');
    assert.ok(xvnc.dumpedBytes > 0 && xvnc.vmaBytes >= xvnc.dumpedBytes, `memory ${xvnc.dumpedBytes} of ${xvnc.vmaBytes}`);
    assert.ok(inside.sockets.some((s) => s.description === `listen 127.0.0.1:${desktop.vncPort}`), JSON.stringify(inside.sockets));
    assert.ok(inside.sockets.some((s) => s.kind === 'tcp' && s.description.includes(`127.0.0.1:${desktop.vncPort} -> 127.0.0.1:${client.socket!.localPort} ESTABLISHED`)), JSON.stringify(inside.sockets));
    assert.ok(xvnc.fds.some((f) => f.type === 'file' && f.target.endsWith('desktop.log')), JSON.stringify(xvnc.fds));
    assert.equal(inside.processes.find((p) => p.pid === 1)?.comm, 'desktop.sh');
    const stats = first.checkpoint.dumpStats!;
    assert.ok(stats.pagesWritten > 0 && stats.frozenMs > 0 && stats.frozenMs <= first.checkpoint.dumpMs!, JSON.stringify(stats));

    const restored = await desktops.restore(first.checkpoint.id);
    assert.equal(restored.desktop.state, 'running');
    assert.equal(restored.checkpoint.restores[0].stats?.pagesRestored, stats.pagesWritten);
    assert.equal(client.closed, false);
    await client.nextUpdate(updateDeadlineMs);
    assert.deepEqual(await programs(await treePids(restored.desktop.pid!)), expectedPrograms, 'the whole tree is back');
    // criu works at a raised priority (server/criu/priority.ts); the programs it restores get their own back.
    assert.deepEqual(await nices(await treePids(restored.desktop.pid!)), (await treePids(restored.desktop.pid!)).map(() => 0), 'nice 0, as dumped');
    assert.deepEqual(await lockRules(engine.desktops, desktop), [], 'no DROP rule of the network lock is left');

    const second = await desktops.checkpoint(desktop.id);
    assert.equal(await silentFor(client, silenceWindowMs), 0);
    await desktops.restore(second.checkpoint.id);
    await client.nextUpdate(updateDeadlineMs);
    assert.equal(client.closed, false);

    // The first checkpoint again: its TCP connection is from an older time, so it comes back closed, the viewer
    // learns it at once, and a new viewer can watch.
    await desktops.checkpoint(desktop.id);
    const events: DesktopEvent[] = [];
    desktops.on('event', (e) => events.push(e));
    const again = await desktops.restore(first.checkpoint.id);
    assert.equal(again.desktop.state, 'running');
    assert.equal(events.find((e) => e.type === 'restored')?.connections, 'closed');
    assert.ok(again.desktop.lastOperation?.command?.includes('--tcp-close'), 'restored with --tcp-close');
    if (desktop.kind !== 'contained') {
      client.requestUpdate(true); // its next packet meets no socket: reset
      await eventually(() => assert.equal(client.closed, true, 'the old viewer connection is reset'));
    }
    // A contained desktop's old connection lives on in the namespace it was made in, which the restore replaced:
    // nothing answers it any more (the bridge closes its viewers itself on such a restore: test/bridgeReal.test.ts).
    assert.deepEqual(await lockRules(engine.desktops, desktop), [], '--tcp-close leaves DROP rules: removed');
    assert.equal((await desktops.getCheckpoint(first.checkpoint.id)).restores.filter((r) => r.ok).length, 2);
    const viewer = await connectViewer(engine.desktops, desktop, { password: desktop.vncPassword });
    await viewer.nextUpdate(updateDeadlineMs);
    viewer.close();
    client.close();
  });

  test('two desktops at once, each checkpointed and restored while the other runs', async () => {
    const { desktops } = engine;
    const [a, b] = await Promise.all([
      desktops.start({ geometry: '640x480', apps: ['xclock'] }),
      desktops.start({ geometry: '640x480', apps: ['xterm', 'xclock'] }),
    ]);
    // Each in a room of its own: the same display :1, in two network namespaces.
    assert.equal(a.kind, 'contained');
    assert.equal(a.display, b.display);
    const [viewA, viewB] = await Promise.all([connectViewer(engine.desktops, a, { password: a.vncPassword }), connectViewer(engine.desktops, b, { password: b.vncPassword })]);
    for (const [frozen, other, view, otherView] of [[a, b, viewA, viewB], [b, a, viewB, viewA]] as const) {
      const { checkpoint } = await desktops.checkpoint(frozen.id);
      assert.equal((await desktops.get(other.id)).state, 'running');
      await otherView.nextUpdate(updateDeadlineMs); // the other one keeps moving meanwhile
      assert.equal(await silentFor(view, silenceWindowMs), 0);
      await desktops.restore(checkpoint.id);
      await view.nextUpdate(updateDeadlineMs);
    }
    viewA.close();
    viewB.close();
  });

  test('bad requests get clear errors and lose nothing', async () => {
    const { desktops, config } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(desktop.id);

    await assert.rejects(desktops.checkpoint(desktop.id), expectCode('bad_state'));
    await assert.rejects(desktops.restore('c-00000000'), expectCode('not_found'));
    await assert.rejects(desktops.checkpoint('d-00000000'), expectCode('not_found'));
    await assert.rejects(desktops.stop('d-00000000'), expectCode('not_found'));
    await assert.rejects(desktops.restore('../etc'), expectCode('invalid'));
    await assert.rejects(desktops.start({ geometry: '99999x1' }), expectCode('invalid'));
    await assert.rejects(desktops.start({ apps: ['rm -rf /'] }), expectCode('invalid'));

    // Two operations at once on one desktop: one runs, the other is refused.
    const results = await Promise.allSettled([desktops.restore(checkpoint.id), desktops.restore(checkpoint.id)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expectCode('busy')(refused.reason);

    // Restore while it runs: refused, unless asked to stop it first.
    await assert.rejects(desktops.restore(checkpoint.id), expectCode('bad_state'));
    assert.equal((await desktops.get(desktop.id)).state, 'running');
    const oldPid = (await desktops.get(desktop.id)).pid!;
    const replaced = await desktops.restore(checkpoint.id, { stopRunning: true });
    assert.equal(replaced.desktop.state, 'running');
    assert.notEqual(replaced.desktop.pid, oldPid);
    assert.equal(await identify(oldPid), undefined, 'the running tree was stopped first');

    // A corrupted checkpoint: criu's own explanation comes back, the images stay, the state stays true.
    const second = await desktops.checkpoint(desktop.id);
    const pstree = path.join(config.stateDir, 'checkpoints', second.checkpoint.id, 'images', 'pstree.img');
    await writeFile(pstree, 'garbage');
    await assert.rejects(desktops.restore(second.checkpoint.id), (error: unknown) => {
      expectCode('criu')(error);
      const info = (error as FreezeframeError).details.error as { exitCode: number; errors: string[]; logPath: string };
      assert.notEqual(info.exitCode, 0);
      assert.ok(info.errors.length > 0, 'the first Error lines of the log');
      assert.match(info.logPath, /restore-1\.log$/);
      return true;
    });
    assert.equal(await readFile(pstree, 'utf8'), 'garbage', 'the images are kept');
    assert.equal((await desktops.get(desktop.id)).state, 'checkpointed');
    if (desktop.kind === 'contained') {
      // Its lock lives in its own namespace, and stays until a restore succeeds (the viewers' connections can still
      // come back): nothing of it on the host.
      assert.deepEqual(await listCriuRules(desktop.vncPort), [], 'no DROP rule on the host');
    } else {
      assert.deepEqual(await lockRules(engine.desktops, desktop), [], 'the failed restore left no DROP rule');
    }

    // The good checkpoint still restores after that failure.
    await desktops.restore(checkpoint.id);
    assert.equal((await desktops.get(desktop.id)).state, 'running');

    // Stop: the checkpoint stays; checkpointing a stopped desktop is refused.
    await desktops.stop(desktop.id);
    await assert.rejects(desktops.checkpoint(desktop.id), expectCode('bad_state'));
    assert.equal((await desktops.getCheckpoint(checkpoint.id)).state, 'complete');
    // A stopped desktop comes back from its checkpoint.
    const back = await desktops.restore(checkpoint.id);
    assert.equal(back.desktop.state, 'running');

    // Deleting a checkpoint frees its space (what it took on disk: it shares pages with the first); the others stay.
    const dir = path.join(config.stateDir, 'checkpoints', second.checkpoint.id);
    const deleted = await desktops.deleteCheckpoint(second.checkpoint.id);
    assert.ok(second.checkpoint.storedBytes! > 0 && deleted.bytesFreed >= second.checkpoint.storedBytes!, `${deleted.bytesFreed} bytes freed of ${second.checkpoint.storedBytes}`);
    await assert.rejects(readdir(dir), /ENOENT/);
    await assert.rejects(desktops.getCheckpoint(second.checkpoint.id), expectCode('not_found'));
    assert.equal((await desktops.getCheckpoint(checkpoint.id)).state, 'complete');
  });

  test('a snapshot keeps the desktop running and restores, twice', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xterm', 'xclock'] });
    const client = await connectViewer(engine.desktops, desktop, { password: desktop.vncPassword });
    const snap = await desktops.checkpoint(desktop.id, { leaveRunning: true });
    assert.equal(snap.desktop.state, 'running');
    assert.equal(snap.checkpoint.leaveRunning, true);
    assert.ok(await identify(desktop.pid!), 'the snapshotted tree still runs');
    await client.nextUpdate(updateDeadlineMs);
    client.close();
    // The running tree writes on to its log meanwhile: the snapshot still restores, and again after that.
    for (let i = 0; i < 2; i++) {
      const restored = await desktops.restore(snap.checkpoint.id, { stopRunning: true });
      assert.equal(restored.desktop.state, 'running');
    }
  });

  test('a checkpoint made by another process (the CLI) reaches this one as events', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const unfollow = followOtherProcesses(desktops);
    const seen: string[] = [];
    desktops.on('event', (e) => e.desktop.id === desktop.id && seen.push(e.type));
    try {
      const { createEngine } = await import('../server/engine');
      const cli = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: engine.config.stateDir, FREEZEFRAME_DISPLAYS: '20-29' });
      const { checkpoint } = await cli.desktops.checkpoint(desktop.id);
      await eventually(() => assert.deepEqual(seen, ['checkpointing', 'checkpointed']));
      await cli.desktops.restore(checkpoint.id);
      await eventually(() => assert.deepEqual(seen, ['checkpointing', 'checkpointed', 'restoring', 'restored']));
    } finally {
      unfollow();
    }
  });

  test('a missing criu is a clear error that says how to get it, and the desktop runs on', async () => {
    const { createEngine } = await import('../server/engine');
    const broken = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: engine.config.stateDir, FREEZEFRAME_DISPLAYS: '20-29', FREEZEFRAME_CRIU: '/nonexistent/criu' });
    const desktop = await broken.desktops.start({ geometry: '640x480', apps: ['xclock'] });
    await assert.rejects(broken.desktops.checkpoint(desktop.id), (error: unknown) => {
      expectCode('criu')(error);
      const info = (error as FreezeframeError).details.error as { hint?: string };
      assert.match(info.hint ?? '', /scripts\/install\.sh/, JSON.stringify(info));
      return true;
    });
    assert.equal((await broken.desktops.get(desktop.id)).state, 'running');
  });

  test('a server restarted meanwhile finds the desktops as they really are', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { createEngine } = await import('../server/engine');
    const other = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: engine.config.stateDir, FREEZEFRAME_DISPLAYS: '20-29' });
    assert.equal((await other.desktops.get(desktop.id)).state, 'running');
    // The tree dies behind the server's back: the record says so with its reason.
    process.kill(desktop.pid!, 'SIGKILL');
    const failed = await eventually(async () => {
      const record = await other.desktops.get(desktop.id);
      assert.equal(record.state, 'failed');
      return record;
    });
    assert.equal(failed.lastError?.code, 'gone');
  });
});

test('dumped and stopped desktops leave no zombie behind', async () => {
  const { engine, dispose } = await withEngine('20-29');
  try {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const first = desktop.pid!;
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const restored = await desktops.restore(checkpoint.id);
    await desktops.stop(desktop.id);
    for (const pid of [first, restored.desktop.pid!]) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => 'gone');
      assert.equal(stat, 'gone', `desktop root ${pid} is still there: ${stat}`);
    }
  } finally {
    await dispose();
  }
});
