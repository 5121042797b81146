// Races on one desktop's record: reconcile run by concurrent reads, and a restore that read a checkpoint early.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { withEngine } from './support/engineFixture';

describe('races on one desktop', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  before(async () => ({ engine, dispose } = await withEngine('170-179')));
  after(async () => dispose());

  test('a restore that finished while another read the checkpoint keeps its history entry and its log', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    // The second restore reads the checkpoint; the first one (as the CLI would) runs to its end right then.
    const read = desktops.getCheckpoint.bind(desktops);
    let first = true;
    desktops.getCheckpoint = async (id: string) => {
      const record = await read(id);
      if (first) {
        first = false;
        await desktops.restore(id);
      }
      return record;
    };
    try {
      await desktops.restore(checkpoint.id, { stopRunning: true });
    } finally {
      desktops.getCheckpoint = read;
    }
    const after = await desktops.getCheckpoint(checkpoint.id);
    assert.deepEqual(after.restores.map((r) => [path.basename(r.logPath), r.ok]), [['restore-1.log', true], ['restore-2.log', true]]);
    for (const r of after.restores) await access(r.logPath);
    assert.equal((await desktops.get(desktop.id)).state, 'running');
  });
});
