// freezeframe/client against the real server bound to a non-loopback address (its token needed): every call of a
// test suite's cycle (start, checkpoint, clone, restore, list, get, stop, remove) with real Xvnc and criu, and the
// server's refusals coming back as typed errors with its own messages.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FreezeframeClient, FreezeframeError } from '../client/index.js';
import { startExposedServer, type ExposedServer } from './support/exposedServer';

const port = 3213;
const token = 'client-token-0123456789';
const url = `http://127.0.0.1:${port}`;
let server: ExposedServer;

before(async () => {
  server = await startExposedServer({ port, token, displays: '250-259' });
});
after(async () => server.stop());

/** The call's error, which must be a FreezeframeError. */
async function failure(call: Promise<unknown>): Promise<FreezeframeError> {
  const error = await call.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof FreezeframeError, `a FreezeframeError, not ${String(error)}`);
  return error;
}

test('without its token: unauthorized; with it, the server\'s own errors, typed', async () => {
  const anonymous = await failure(new FreezeframeClient({ url, token: '' }).list());
  assert.deepEqual([anonymous.code, anonymous.status], ['unauthorized', 401]);
  assert.match(anonymous.message, /token/);

  const client = new FreezeframeClient({ url, token });
  assert.deepEqual(await client.list(), []);
  const missing = await failure(client.get('d-00000000'));
  assert.deepEqual([missing.code, missing.status], ['not_found', 404]);
  assert.match(missing.message, /d-00000000/);
  const badApp = await failure(client.start({ apps: ['no-such-app'] }));
  assert.deepEqual([badApp.code, badApp.status], ['invalid', 400]);
  assert.match(badApp.fields?.apps?.[0] ?? '', /^unknown app "no-such-app"; known: xterm/);
  const tooMany = await failure(client.clone('c-00000000', { count: 17 }));
  assert.deepEqual([tooMany.code, tooMany.status], ['invalid', 400]);
});

test('a test suite\'s cycle: start, checkpoint, clone, restore the original, stop and remove both', async () => {
  const client = new FreezeframeClient({ url, token });
  const desktop = await client.start({ geometry: '640x480', apps: ['xclock'] });
  assert.equal(desktop.state, 'running');
  assert.match(desktop.vncPassword, /^[A-Za-z0-9]{8}$/, 'a started desktop\'s own answer has its password');
  const checkpoint = await client.checkpoint(desktop.id);
  assert.equal(checkpoint.state, 'complete');
  assert.equal((await client.get(desktop.id)).desktop.state, 'checkpointed');

  const cloned = await client.clone(checkpoint.id, { count: 1 });
  assert.deepEqual(cloned.failed, []);
  const [clone] = cloned.desktops;
  assert.equal(clone.state, 'running');
  assert.equal(clone.homeBase, checkpoint.id);
  assert.equal(clone.vncPassword, undefined, 'no password in a list of desktops');

  const restored = await client.restore(checkpoint.id);
  assert.equal(restored.desktop.state, 'running');
  assert.ok(restored.restoreMs > 0);
  const busy = await failure(client.restore(checkpoint.id));
  assert.deepEqual([busy.code, busy.status], ['bad_state', 409], 'a running desktop is not restored over without stopRunning');
  assert.deepEqual((await client.list()).map((d) => d.id).sort(), [desktop.id, clone.id].sort());

  // The viewer's URL carries the token: the page trades it for a cookie.
  const page = await fetch(client.viewerUrl(clone.id), { redirect: 'manual' });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), `/desktops/${clone.id}`);
  assert.match(page.headers.get('set-cookie') ?? '', /^freezeframe_token=/);

  const running = await failure(client.remove(clone.id));
  assert.deepEqual([running.code, running.status], ['bad_state', 409], 'a running desktop is not removed');
  for (const id of [clone.id, desktop.id]) {
    assert.equal((await client.stop(id)).state, 'stopped');
    const removed = await client.remove(id);
    assert.equal(removed.desktop, id);
  }
  assert.deepEqual(await client.list(), []);
});
