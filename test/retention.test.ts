// The retention policy's choice, pure: which checkpoints go after a checkpoint, and which never do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkpointsToRemove, describePolicy, type RetentionCandidate } from '../lib/retention';

const mb = 1024 ** 2;
/** c1 (oldest) .. cN (newest), each `bytes`, at one-minute steps. */
function series(n: number, bytes = 10 * mb, extra: (i: number) => Partial<RetentionCandidate> = () => ({})): RetentionCandidate[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `c-${i + 1}`, createdAt: `2026-11-30T10:${String(i).padStart(2, '0')}:00.000Z`, state: 'complete' as const, bytes, ...extra(i + 1),
  }));
}

test('no policy removes nothing', () => {
  assert.deepEqual(checkpointsToRemove(series(30), undefined), []);
  assert.deepEqual(checkpointsToRemove(series(30), {}), []);
});

test('keep the last N: the older ones go, oldest first', () => {
  assert.deepEqual(checkpointsToRemove(series(5), { keepLast: 2 }), ['c-1', 'c-2', 'c-3']);
  assert.deepEqual(checkpointsToRemove(series(2), { keepLast: 2 }), []);
});

test('pinned ones and the one a frozen desktop needs are kept on top of N', () => {
  const all = series(6, 10 * mb, (i) => ({ pinned: i === 1 }));
  assert.deepEqual(checkpointsToRemove(all, { keepLast: 2 }, new Set(['c-3'])), ['c-2', 'c-4']);
});

test('the newest is never removed, and one being dumped is not counted', () => {
  const all = [...series(3), { id: 'c-9', createdAt: '2026-11-30T11:00:00.000Z', state: 'dumping' as const, bytes: 0 }];
  assert.deepEqual(checkpointsToRemove(all, { keepLast: 1 }), ['c-1', 'c-2']);
  assert.deepEqual(checkpointsToRemove(series(3), { maxBytes: 1 }), ['c-1', 'c-2']);
});

test('at most so many bytes: the oldest go until the rest fit', () => {
  assert.deepEqual(checkpointsToRemove(series(5), { maxBytes: 25 * mb }), ['c-1', 'c-2', 'c-3']);
  assert.deepEqual(checkpointsToRemove(series(5), { maxBytes: 50 * mb }), []);
  // Both limits: the stricter one decides.
  assert.deepEqual(checkpointsToRemove(series(5), { keepLast: 4, maxBytes: 25 * mb }), ['c-1', 'c-2', 'c-3']);
  assert.deepEqual(checkpointsToRemove(series(5), { keepLast: 2, maxBytes: 500 * mb }), ['c-1', 'c-2', 'c-3']);
});

test('a removed base still counts while a kept checkpoint reads pages from it', () => {
  // c-1 is whole (40 MB); c-2..c-5 share its pages (2 MB each): removing c-1 frees nothing while they stay.
  const all = series(5, 2 * mb, (i) => (i === 1 ? { bytes: 40 * mb } : { base: 'c-1' }));
  assert.deepEqual(checkpointsToRemove(all, { maxBytes: 48 * mb }), []);
  // 48 MB in all: removing c-1 alone leaves 48 (c-2..c-5 still read it), so c-2 goes too: 46 MB.
  assert.deepEqual(checkpointsToRemove(all, { maxBytes: 47 * mb }), ['c-1', 'c-2']);
  assert.deepEqual(checkpointsToRemove(all, { maxBytes: 44 * mb }), ['c-1', 'c-2', 'c-3']);
});

test('failed checkpoints count like any other', () => {
  const all = series(4, 10 * mb, (i) => (i === 3 ? { state: 'failed' as const, bytes: 1000 } : {}));
  assert.deepEqual(checkpointsToRemove(all, { keepLast: 2 }), ['c-1', 'c-2']);
});

test('the policy in words', () => {
  const format = (n: number) => `${n / mb} MB`;
  assert.equal(describePolicy(undefined, format), 'keep every checkpoint');
  assert.equal(describePolicy({ keepLast: 5, maxBytes: 500 * mb }, format), 'keep the last 5 and at most 500 MB (pinned ones always)');
});
