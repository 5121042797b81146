// Records on disk: atomic writes that stay atomic when one record is written many times at once.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readJson, writeJsonAtomic } from '../server/store/jsonFiles';

describe('writeJsonAtomic', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-json-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  test('writes of one record in the same millisecond each land whole, and leave no temp file', async () => {
    const file = path.join(dir, 'desktop.json');
    // Large enough that two writers sharing a temp file would interleave their bytes.
    const values = Array.from({ length: 20 }, (_, i) => ({ n: i, pad: String(i).repeat(50_000) }));
    const results = await Promise.allSettled(values.map((v, i) => writeJsonAtomic(file, v, { durable: i % 2 === 0 })));
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), [], 'every write succeeded');
    const last = await readJson<{ n: number; pad: string }>(file);
    assert.ok(last && last.pad === String(last.n).repeat(50_000), 'the record is one of the values, whole');
    assert.deepEqual(await readdir(dir), ['desktop.json']);
  });
});
