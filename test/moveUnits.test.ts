// The move's pure parts: the static peers directory's checks, the record change a CLI move makes as the server's
// event, the fleet key file's rules.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { eventFor } from '../server/desktops/recordFollower';
import type { DesktopRecord } from '../server/desktops/records';
import { fleetKey } from '../server/fleet/fleetKey';
import { peersFromEnv, staticPeers } from '../server/fleet/staticPeers';

const key = 'ed25519:' + Buffer.alloc(32, 7).toString('base64');

test('static peers: a list checked whole (id, URL, key line); self, get and all', () => {
  const peers = staticPeers('host1', [{ id: 'host1', url: 'http://10.0.0.1:3000/ignored', publicKey: key }, { id: 'host2', url: 'http://10.0.0.2:3000', publicKey: `${key} host2` }]);
  assert.equal(peers.self, 'host1');
  assert.equal(peers.get('host1')?.url, 'http://10.0.0.1:3000', 'the origin only');
  assert.deepEqual(peers.all().map((p) => p.id), ['host1', 'host2']);
  assert.equal(peers.get('host3'), undefined);
  assert.equal(peers.fresh(), true);
  assert.throws(() => staticPeers('a', [{ id: 'Host_1', url: 'http://x', publicKey: key }]), /an id is/);
  assert.throws(() => staticPeers('a', [{ id: 'h', url: 'ftp://x', publicKey: key }]), /must be http/);
  assert.throws(() => staticPeers('a', [{ id: 'h', url: 'http://x', publicKey: 'ssh-rsa AAAA' }]), /no key line/);
  assert.throws(() => peersFromEnv({ FREEZEFRAME_HOST_ID: 'h', FREEZEFRAME_PEERS: '{"id":"h"}' } as unknown as NodeJS.ProcessEnv), /JSON list/);
  assert.deepEqual(peersFromEnv({ FREEZEFRAME_HOST_ID: 'h' } as unknown as NodeJS.ProcessEnv).all(), [], 'no list: this host alone');
  assert.throws(() => peersFromEnv({ FREEZEFRAME_HOST_ID: 'Not A Host' } as unknown as NodeJS.ProcessEnv), /FREEZEFRAME_HOST_ID/);
});

test('a record that went from checkpointed to stopped with movedTo is a move, one without is a stop', () => {
  const before = { id: 'd-1', state: 'checkpointed' } as DesktopRecord;
  assert.deepEqual(eventFor(before, { ...before, state: 'stopped', movedTo: { host: 'h2', at: 'now', checkpoint: 'c-1' } }), { type: 'moved' });
  assert.deepEqual(eventFor(before, { ...before, state: 'stopped' }), { type: 'stopped' });
});

test('the fleet key: none without a file; a file others can read, or too short, is refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ff-fleetkey-'));
  try {
    assert.equal(fleetKey({} as unknown as NodeJS.ProcessEnv), undefined);
    const open = path.join(dir, 'open.key');
    await writeFile(open, 'x'.repeat(32), { mode: 0o644 });
    assert.throws(() => fleetKey({ FREEZEFRAME_FLEET_KEY_FILE: open } as unknown as NodeJS.ProcessEnv), /chmod 600/);
    const short = path.join(dir, 'short.key');
    await writeFile(short, 'abc', { mode: 0o600 });
    assert.throws(() => fleetKey({ FREEZEFRAME_FLEET_KEY_FILE: short } as unknown as NodeJS.ProcessEnv), /too short/);
    const good = path.join(dir, 'good.key');
    await writeFile(good, `${'k'.repeat(32)}\n`, { mode: 0o600 });
    assert.equal(fleetKey({ FREEZEFRAME_FLEET_KEY_FILE: good } as unknown as NodeJS.ProcessEnv), 'k'.repeat(32));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
