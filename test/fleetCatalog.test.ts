// The fleet's pure parts and the catalog sync against a real etcd (loopback): placement's choice, when the view
// turns stale, and a sync that puts this host's records without secrets and removes only its own stale keys.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CheckpointRecord, DesktopRecord } from '../server/desktops/records';
import { syncCatalog } from '../server/fleet/catalog';
import { etcdClient, type EtcdClient } from '../server/fleet/etcd';
import { keys, placeOn, type Peer } from '../server/fleet/peers';
import { fleetView, staleAfterMs } from '../server/fleet/view';
import { startEtcd, type TestEtcd } from './support/etcd';

let etcd: TestEtcd;
before(async () => {
  etcd = await startEtcd({ port: 3554 });
});
after(async () => etcd?.dispose());

const peer = (id: string, mem: number): Peer => ({ id, url: `http://${id}:1`, publicKey: `ed25519:x ${id}`, memAvailableBytes: mem, seenAt: '2026-11-30T00:00:00Z' });

test('placement: the most free memory; a tie goes to the first id, so every host picks the same', () => {
  assert.equal(placeOn([peer('a', 1), peer('b', 3), peer('c', 2)])?.id, 'b');
  assert.equal(placeOn([peer('c', 5), peer('a', 5)])?.id, 'a');
  assert.equal(placeOn([]), undefined);
});

test('the view is fresh after a read and stale once etcd has not answered for 3 s (never read: stale)', async () => {
  let now = 1_000_000;
  const client = etcdClient(etcd.loopbackUrl);
  await client.put(keys.hosts + 'a', JSON.stringify(peer('a', 7)));
  const view = fleetView(client, 'a', () => now);
  assert.equal(view.fresh(), false, 'never read: not fresh');
  await view.refresh();
  assert.equal(view.fresh(), true);
  assert.equal(view.get('a')?.memAvailableBytes, 7);
  now += staleAfterMs;
  assert.equal(view.fresh(), false, 'no answer for 3 s');
  const unreachable = fleetView(etcdClient('http://127.0.0.1:3569', { timeoutMs: 300 }), 'a', () => now);
  await unreachable.refresh();
  assert.equal(unreachable.fresh(), false);
  assert.match(unreachable.snapshot().error ?? '', /etcd unreachable at http:\/\/127\.0\.0\.1:3569/);
  await client.delete(keys.hosts + 'a');
});

const desktop = (id: string, state = 'running'): DesktopRecord => ({
  id, kind: 'contained', display: 1, vncPort: 5901, geometry: '1024x768', apps: ['xclock'], vncPassword: `secret-${id}`, vncViewPassword: `view-${id}`,
  state: state as DesktopRecord['state'], createdAt: '2026-11-30T07:00:00Z', updatedAt: '2026-11-30T07:00:01Z',
});
const checkpoint = (id: string, d: string): CheckpointRecord => ({
  id, desktop: d, createdAt: '2026-11-30T07:01:00Z', state: 'complete', imageBytes: 1234,
  desktopSpec: { vncPassword: `secret-${d}`, vncViewPassword: `view-${d}` },
} as unknown as CheckpointRecord);

test('a sync puts this host\'s desktops (on its lease) and checkpoints without secrets, and removes only its own that went', async () => {
  const c: EtcdClient = etcdClient(etcd.loopbackUrl);
  const lease = await c.grant(30);
  // Another host's entries: never touched.
  await c.put(keys.desktops + 'd-other', JSON.stringify({ id: 'd-other', host: 'b' }));
  let records = { list: async () => [desktop('d-1'), desktop('d-2')], checkpoints: async () => [checkpoint('c-1', 'd-1')] };
  assert.deepEqual(await syncCatalog(c, records, 'a', lease), { put: 3, deleted: 0 });
  assert.deepEqual(await syncCatalog(c, records, 'a', lease), { put: 0, deleted: 0 }, 'nothing changed: nothing written');
  const d1 = await c.get(keys.desktops + 'd-1');
  assert.equal(d1?.lease, lease);
  assert.deepEqual(JSON.parse(d1!.value), { id: 'd-1', host: 'a', state: 'running', geometry: '1024x768', apps: ['xclock'], kind: 'contained', updatedAt: '2026-11-30T07:00:01Z' });
  const c1 = await c.get(keys.checkpoints + 'c-1');
  assert.equal(c1?.lease, undefined, 'checkpoints outlive the host\'s lease');
  assert.deepEqual(JSON.parse(c1!.value), { id: 'c-1', desktop: 'd-1', host: 'a', createdAt: '2026-11-30T07:01:00Z', imageBytes: 1234, state: 'complete' });
  const all = (await c.list(keys.root)).map((kv) => kv.value).join('\n');
  assert.ok(!/secret-|view-/.test(all), 'no VNC password in etcd');

  records = { list: async () => [desktop('d-1', 'checkpointed')], checkpoints: async () => [] };
  assert.deepEqual(await syncCatalog(c, records, 'a', lease), { put: 1, deleted: 2 });
  assert.equal(JSON.parse((await c.get(keys.desktops + 'd-1'))!.value).state, 'checkpointed');
  assert.equal(await c.get(keys.desktops + 'd-2'), undefined);
  assert.ok(await c.get(keys.desktops + 'd-other'), 'another host\'s desktop stays');

  // A new lease (the old one lost while etcd was away): every desktop is put again on it.
  const renewed = await c.grant(30);
  assert.deepEqual(await syncCatalog(c, records, 'a', renewed), { put: 1, deleted: 0 });
  assert.equal((await c.get(keys.desktops + 'd-1'))?.lease, renewed);
});

test('one desktop id on two hosts (moved, the source keeps its record): the host that holds it keeps the entry, no rewriting in turn', async () => {
  const c = etcdClient(etcd.loopbackUrl);
  const leaseA = await c.grant(30);
  const leaseB = await c.grant(30);
  const key = keys.desktops + 'd-moved';
  const onA = { list: async () => [desktop('d-moved', 'stopped')], checkpoints: async () => [checkpoint('c-moved', 'd-moved')] };
  const onB = { list: async () => [desktop('d-moved', 'running')], checkpoints: async () => [checkpoint('c-moved', 'd-moved')] };
  await syncCatalog(c, onB, 'm2', leaseB);
  // A's stopped record and its copy of the checkpoint: B's entries stay, sync after sync.
  assert.deepEqual(await syncCatalog(c, onA, 'm1', leaseA), { put: 0, deleted: 0 });
  assert.deepEqual(await syncCatalog(c, onB, 'm2', leaseB), { put: 0, deleted: 0 });
  assert.equal(JSON.parse((await c.get(key))!.value).host, 'm2');
  // Once B no longer holds it (stopped) and A runs it again, A's entry takes over.
  const backOnA = { list: async () => [desktop('d-moved', 'running')], checkpoints: async () => [] };
  await syncCatalog(c, { list: async () => [desktop('d-moved', 'stopped')], checkpoints: async () => [] }, 'm2', leaseB);
  assert.deepEqual(await syncCatalog(c, backOnA, 'm1', leaseA), { put: 1, deleted: 0 });
  assert.equal(JSON.parse((await c.get(key))!.value).host, 'm1');
});

test('a move: the target running it takes the entry from the frozen source at once; the moved record is never listed', async () => {
  const c = etcdClient(etcd.loopbackUrl);
  const leaseA = await c.grant(30);
  const leaseB = await c.grant(30);
  const key = keys.desktops + 'd-move';
  // The source froze it for the move: its entry says checkpointed.
  await syncCatalog(c, { list: async () => [desktop('d-move', 'checkpointed')], checkpoints: async () => [] }, 'm1', leaseA);
  // The target restored it: running there beats frozen here.
  const onB = { list: async () => [desktop('d-move', 'running')], checkpoints: async () => [] };
  assert.deepEqual(await syncCatalog(c, onB, 'm2', leaseB), { put: 1, deleted: 0 });
  assert.equal(JSON.parse((await c.get(key))!.value).host, 'm2');
  // The source, still frozen (its answer not in yet), leaves it to the target.
  assert.deepEqual(await syncCatalog(c, { list: async () => [desktop('d-move', 'checkpointed')], checkpoints: async () => [] }, 'm1', leaseA), { put: 0, deleted: 0 });
  // The source's record says where it went: not listed, the target's entry untouched.
  const moved = { ...desktop('d-move', 'stopped'), movedTo: { host: 'm2', at: '2026-11-30T07:02:00Z', checkpoint: 'c-x' } };
  assert.deepEqual(await syncCatalog(c, { list: async () => [moved], checkpoints: async () => [] }, 'm1', leaseA), { put: 0, deleted: 0 });
  assert.equal(JSON.parse((await c.get(key))!.value).host, 'm2');
  // Had the source's own entry still been there (the target slower to sync), the moved record deletes it.
  await c.put(key, JSON.stringify({ id: 'd-move', host: 'm1', state: 'checkpointed' }), leaseA);
  assert.deepEqual(await syncCatalog(c, { list: async () => [moved], checkpoints: async () => [] }, 'm1', leaseA), { put: 0, deleted: 1 });
  assert.deepEqual(await syncCatalog(c, onB, 'm2', leaseB), { put: 1, deleted: 0 });
  assert.equal(JSON.parse((await c.get(key))!.value).host, 'm2');
});
