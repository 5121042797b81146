// server/fleet/etcd.ts against a real etcd 3.4 on loopback: put/get/list/delete, leases (expiry, keepalive, revoke),
// a watch, and the error while etcd is gone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { etcdClient, prefixEnd, type WatchEvent } from '../server/fleet/etcd';
import { startEtcd, type TestEtcd } from './support/etcd';
import { eventually } from './support/eventually';

let etcd: TestEtcd;
before(async () => {
  etcd = await startEtcd({ port: 3552 });
});
after(async () => etcd?.dispose());

test('prefixEnd is the key just past the prefix', () => {
  assert.equal(Buffer.from(prefixEnd('/a/'), 'base64').toString(), '/a0');
  assert.deepEqual([...Buffer.from(prefixEnd('a\xff'), 'base64')], [0x61, 0xc3, 0xc0]);
});

test('put, get, list by prefix, delete; values are any text', async () => {
  const c = etcdClient(etcd.loopbackUrl);
  await c.put('/t/a', '{"x":"é"}');
  await c.put('/t/b', 'two');
  await c.put('/u/c', 'other');
  assert.equal((await c.get('/t/a'))?.value, '{"x":"é"}');
  assert.deepEqual((await c.list('/t/')).map((kv) => [kv.key, kv.value]), [['/t/a', '{"x":"é"}'], ['/t/b', 'two']]);
  assert.equal(await c.delete('/t/a'), 1);
  assert.equal(await c.get('/t/a'), undefined);
});

test('a key on a lease goes when the lease expires; a keepalive keeps it; a revoke ends it', async () => {
  const c = etcdClient(etcd.loopbackUrl);
  const short = await c.grant(2);
  await c.put('/lease/short', 'x', short);
  assert.equal((await c.get('/lease/short'))?.lease, short);
  await eventually(async () => assert.equal(await c.get('/lease/short'), undefined), 6_000);
  assert.equal(await c.keepAlive(short), 0, 'an expired lease: TTL 0');
  const kept = await c.grant(5);
  assert.ok((await c.keepAlive(kept)) > 0);
  await c.put('/lease/kept', 'y', kept);
  await c.revoke(kept);
  assert.equal(await c.get('/lease/kept'), undefined);
});

test('a watch sees puts and deletes under its prefix only', async () => {
  const c = etcdClient(etcd.loopbackUrl);
  const seen: WatchEvent[] = [];
  const abort = new AbortController();
  const watching = c.watch('/w/', (e) => seen.push(e), abort.signal).catch((e: Error) => e);
  // The watch is created when etcd answers its first line; a put before could be missed, so put until one is seen.
  await eventually(async () => {
    await c.put('/w/k', 'v');
    assert.ok(seen.some((e) => e.type === 'PUT' && e.key === '/w/k' && e.value === 'v'), 'the watch saw the put');
  });
  await c.put('/elsewhere', 'no');
  await c.delete('/w/k');
  await eventually(() => assert.ok(seen.some((e) => e.type === 'DELETE' && e.key === '/w/k'), 'the watch saw the delete'));
  assert.ok(!seen.some((e) => e.key === '/elsewhere'), 'nothing outside the watched prefix');
  abort.abort();
  await watching;
});

test('etcd gone: a clear error naming the endpoint; back: calls work again', async () => {
  const c = etcdClient(etcd.loopbackUrl, { timeoutMs: 500 });
  await etcd.stop();
  await assert.rejects(c.get('/t/b'), (e: Error) => e.name === 'EtcdError' && e.message.includes(etcd.loopbackUrl));
  await etcd.start();
  assert.equal((await c.get('/t/b'))?.value, 'two');
});
