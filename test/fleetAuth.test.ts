// The fleet key in the access check (server/auth.ts), its file, and the fleet configuration: a fellow host's bearer is let in
// like the token, on requests and upgrades; never as a cookie, and nothing on a server without one. Pure.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { createAuth } from '../server/auth';

const req = (headers: Record<string, string>, url = '/api/desktops') => ({ url, method: 'GET', headers }) as unknown as IncomingMessage;
function res() {
  const seen = { status: 0 };
  return { seen, res: { writeHead: (status: number) => (seen.status = status), end: () => {} } as unknown as ServerResponse };
}

test('a request with the fleet key as its bearer passes like one with the token; as a cookie it does not', () => {
  const auth = createAuth('10.0.0.2', 'the-token-0123456789', 'the-fleet-key-0123456789');
  assert.equal(auth.allowRequest(req({ authorization: 'Bearer the-fleet-key-0123456789' }), res().res), true);
  assert.equal(auth.checkUpgrade(req({ authorization: 'Bearer the-fleet-key-0123456789' }, '/api/desktops/d-1a2b3c4d/vnc')), 200);
  const r = res();
  assert.equal(auth.allowRequest(req({ cookie: 'freezeframe_token=the-fleet-key-0123456789' }), r.res), false);
  assert.equal(r.seen.status, 401);
  assert.equal(auth.checkUpgrade(req({ authorization: 'Bearer the-fleet-key-01234567890' })), 401, 'another key');
});

test('without a fleet key configured, no bearer but the token passes', () => {
  const auth = createAuth('10.0.0.2', 'the-token-0123456789');
  assert.equal(auth.allowRequest(req({ authorization: 'Bearer the-fleet-key-0123456789' }), res().res), false);
  assert.equal(auth.allowRequest(req({ authorization: 'Bearer the-token-0123456789' }), res().res), true);
});

test('the fleet key file: refused when others can read it or it is too short; its text trimmed', async () => {
  const { chmod, mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { readFleetKey } = await import('../server/fleet/fleetKey');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-fleetkey-'));
  try {
    const file = path.join(dir, 'key');
    await writeFile(file, 'a-fleet-key-of-enough-length\n');
    await chmod(file, 0o644);
    await assert.rejects(readFleetKey(file), /readable or writable by others \(mode 644\): chmod 600 it/);
    await chmod(file, 0o600);
    assert.equal(await readFleetKey(file), 'a-fleet-key-of-enough-length');
    await writeFile(file, 'short');
    await assert.rejects(readFleetKey(file), /too short/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fleet configuration: none without FREEZEFRAME_ETCD; a bad endpoint, host id or public URL is refused', async () => {
  const { loadConfig: load } = await import('../server/config');
  const loadConfig = (env: Record<string, string>) => load(env as NodeJS.ProcessEnv);
  assert.equal(loadConfig({}).fleet, undefined);
  assert.deepEqual(loadConfig({ FREEZEFRAME_ETCD: 'http://10.0.0.1:2379, http://10.0.0.2:2379', FREEZEFRAME_HOST_ID: 'h-1', FREEZEFRAME_PUBLIC_URL: 'http://10.0.0.3:3000/' }).fleet, {
    etcd: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], hostId: 'h-1', publicUrl: 'http://10.0.0.3:3000', keyFile: undefined,
  });
  assert.throws(() => loadConfig({ FREEZEFRAME_ETCD: '10.0.0.1:2379' }), /no etcd endpoint/);
  assert.throws(() => loadConfig({ FREEZEFRAME_ETCD: 'http://e:2379', FREEZEFRAME_HOST_ID: 'Host_1' }), /FREEZEFRAME_HOST_ID/);
  assert.throws(() => loadConfig({ FREEZEFRAME_ETCD: 'http://e:2379', FREEZEFRAME_HOST_ID: 'h', FREEZEFRAME_PUBLIC_URL: 'http://x:1/path' }), /FREEZEFRAME_PUBLIC_URL/);
});
