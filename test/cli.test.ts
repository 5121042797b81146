// The CLI as scripts use it: JSON on stdout, exit 0 on success, exit 1 with a JSON error on failure.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

let stateDir: string;
/** The CLI's own TMPDIR: what its calls leave behind there shows. */
let tmpDir: string;
before(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-cli-'));
  tmpDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-cli-tmp-'));
});
after(async () => {
  await rm(stateDir, { recursive: true, force: true });
  await rm(tmpDir, { recursive: true, force: true });
});

function run(args: string[], keyDir = path.join(stateDir, 'keys')): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      path.resolve('bin/freezeframe.js'),
      args,
      { env: { ...process.env, TMPDIR: tmpDir, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_KEY_DIR: keyDir, FREEZEFRAME_DISPLAYS: '30-39' } },
      (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout }),
    );
  });
}

async function cli(...args: string[]): Promise<{ code: number; json: any }> {
  const { code, stdout } = await run(args);
  return { code, json: JSON.parse(stdout) };
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
  // Nothing left in the temporary folder by five calls, two of them criu's (its option files, its worker's folder).
  assert.deepEqual(await readdir(tmpDir), []);
});

test('retention, pin, and remove a stopped desktop', async () => {
  const started = await cli('start', '--geometry', '640x480', '--app', 'xclock');
  const id = started.json.id;
  const policy = await cli('retention', id, '--keep-last', '2', '--max-bytes', '500M');
  assert.equal(policy.code, 0, JSON.stringify(policy.json));
  assert.deepEqual(policy.json.retention, { keepLast: 2, maxBytes: 500 * 1024 ** 2 });
  const first = (await cli('checkpoint', id, '--leave-running')).json.checkpoint;
  assert.deepEqual((await cli('pin', first)).json, { checkpoint: first, pinned: true });
  const made = [];
  for (let n = 0; n < 3; n++) made.push((await cli('checkpoint', id, '--leave-running')).json.checkpoint);
  // The pinned one and the last two: the policy ran after each checkpoint, in the CLI's own process.
  const listed = (await cli('list')).json.find((d: { id: string }) => d.id === id).checkpoints.map((c: { id: string }) => c.id);
  assert.deepEqual(listed, [first, ...made.slice(-2)]);
  const refused = await cli('remove', id);
  assert.equal(refused.json.error.code, 'bad_state');
  await cli('stop', id);
  const removed = await cli('remove', id);
  assert.equal(removed.code, 0, JSON.stringify(removed.json));
  assert.deepEqual(removed.json.checkpoints, [first, ...made.slice(-2)]);
  assert.ok(removed.json.bytesFreed > 1024 ** 2, JSON.stringify(removed.json));
  assert.equal((await cli('list')).json.find((d: { id: string }) => d.id === id), undefined);
  const bad = await cli('retention', id, '--keep-last', 'many');
  assert.equal(bad.json.error.code, 'invalid');
});

test('usage errors are JSON too', async () => {
  const r = await cli('restore');
  assert.equal(r.code, 1);
  assert.equal(r.json.error.code, 'invalid');
  const unknown = await cli('restore', 'c-deadbeef');
  assert.equal(unknown.json.error.code, 'not_found');
});

test('key prints one line, the same from processes racing to make the key; trust elsewhere accepts it', async () => {
  const here = path.join(stateDir, 'keys-here');
  const printed = await Promise.all([1, 2, 3].map(() => run(['key'], here)));
  assert.deepEqual(printed.map((p) => p.code), [0, 0, 0]);
  assert.equal(new Set(printed.map((p) => p.stdout)).size, 1, printed.map((p) => p.stdout).join(''));
  const line = printed[0].stdout;
  assert.match(line, /^ed25519:[A-Za-z0-9+/]{43}= \S+\n$/, 'one line, plain text');

  const there = path.join(stateDir, 'keys-there');
  const trusted = await run(['trust', line.trim()], there);
  assert.equal(trusted.code, 0, trusted.stdout);
  assert.deepEqual(JSON.parse(trusted.stdout), { key: line.split(' ')[0], name: os.hostname(), file: path.join(there, 'trusted-keys'), added: true });
  // Unquoted, the shell splits the line in two: still one key, still trusted once.
  const again = await run(['trust', ...line.trim().split(' ')], there);
  assert.equal(JSON.parse(again.stdout).added, false);
  assert.equal(await readFile(path.join(there, 'trusted-keys'), 'utf8'), line);

  const garbage = await run(['trust', 'ssh-ed25519', 'AAAAC3NzaC1lZDI1NTE5AAAAI'], there);
  assert.equal(garbage.code, 1);
  assert.equal(JSON.parse(garbage.stdout).error.code, 'invalid');
  assert.match(JSON.parse(garbage.stdout).error.message, /no key line/);
});
