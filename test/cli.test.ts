// The CLI as scripts use it: JSON on stdout, exit 0 on success, exit 1 with a JSON error on failure.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

let stateDir: string;
before(async () => (stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-cli-'))));
after(async () => rm(stateDir, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number; json: any }> {
  return new Promise((resolve) => {
    execFile(
      path.resolve('bin/freezeframe.js'),
      args,
      { env: { ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: '30-39' } },
      (error, stdout) => resolve({ code: error ? Number(error.code) : 0, json: JSON.parse(stdout) }),
    );
  });
}

test('start, checkpoint, restore, list, stop', async () => {
  const started = await cli('start', '--geometry', '800x600', '--app', 'xclock');
  assert.equal(started.code, 0);
  assert.deepEqual(Object.keys(started.json).sort(), ['display', 'id', 'pid', 'state', 'vncPort']);
  assert.equal(started.json.state, 'running');
  const id = started.json.id;
  try {
    const cp = await cli('checkpoint', id);
    assert.equal(cp.code, 0);
    assert.equal(cp.json.desktop, id);
    assert.ok(cp.json.dumpMs > 0 && cp.json.imageBytes > 0, JSON.stringify(cp.json));
    const restored = await cli('restore', cp.json.checkpoint);
    assert.equal(restored.code, 0);
    assert.equal(restored.json.state, 'running');
    const list = await cli('list');
    assert.equal(list.json.find((d: { id: string }) => d.id === id).checkpoints.length, 1);
  } finally {
    const stopped = await cli('stop', id);
    assert.equal(stopped.json.state, 'stopped');
  }
  const refused = await cli('checkpoint', id);
  assert.equal(refused.code, 1);
  assert.equal(refused.json.error.code, 'bad_state');
  assert.match(refused.json.error.message, /stopped/);
});

test('usage errors are JSON too', async () => {
  const r = await cli('restore');
  assert.equal(r.code, 1);
  assert.equal(r.json.error.code, 'invalid');
  const unknown = await cli('restore', 'c-deadbeef');
  assert.equal(unknown.json.error.code, 'not_found');
});
