// Races on one desktop's record: reconcile run by concurrent reads, and a restore that read a checkpoint early.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import type { DesktopEvent } from '../server/desktops/events';
import { identify } from '../server/desktops/processes';
import { RecordStore } from '../server/desktops/store';
import { withEngine } from './support/engineFixture';
import { eventually } from './support/eventually';

describe('races on one desktop', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('170-179')));
  after(async () => dispose());

  test('a desktop found dead is marked failed once, under its lock, and said to every page', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const events: DesktopEvent[] = [];
    desktops.on('event', (e) => e.desktop.id === desktop.id && events.push(e));
    // PID 1 of the desktop's namespace: the kernel kills the rest of its tree.
    process.kill(desktop.pid!, 'SIGKILL');
    await eventually(async () => assert.equal(await identify(desktop.pid!), undefined), 5_000);
    // As an open page's GET, a WebSocket upgrade and the dashboard's list would, all at once.
    const seen = await Promise.all([desktops.get(desktop.id), desktops.get(desktop.id), desktops.list()]);
    assert.deepEqual(seen.map((s) => (Array.isArray(s) ? s.find((d) => d.id === desktop.id)!.state : s.state)), ['failed', 'failed', 'failed']);
    assert.deepEqual(events.map((e) => [e.type, e.desktop.state, e.error?.code]), [['failed', 'failed', 'gone']]);
    assert.equal((await desktops.get(desktop.id)).state, 'failed');
    assert.equal(events.length, 1, 'a second look finds nothing more to do');
  });

  test('a restore that finished while another read the checkpoint keeps its history entry and its log', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    // The second restore reads the checkpoint; the first one (as the CLI would) runs to its end right then.
    const read = RecordStore.prototype.getCheckpoint;
    let first = true;
    RecordStore.prototype.getCheckpoint = async function (this: RecordStore, id: string) {
      const record = await read.call(this, id);
      if (first) {
        first = false;
        await desktops.restore(id);
      }
      return record;
    };
    try {
      await desktops.restore(checkpoint.id, { stopRunning: true });
    } finally {
      RecordStore.prototype.getCheckpoint = read;
    }
    const after = await desktops.getCheckpoint(checkpoint.id);
    assert.deepEqual(after.restores.map((r) => [path.basename(r.logPath), r.ok]), [['restore-1.log', true], ['restore-2.log', true]]);
    for (const r of after.restores) await access(r.logPath);
    assert.equal((await desktops.get(desktop.id)).state, 'running');
  });
});
