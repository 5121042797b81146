// A short soak in CI (bench/soak.mts runs the long one): cycles with a viewer connected leak nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withEngine } from './support/engineFixture';
import { soak } from './support/soak';

const cycles = Number(process.env.FREEZEFRAME_SOAK_CYCLES ?? 10);

test(`${cycles} checkpoint/restore cycles with a viewer connected: no failure, nothing leaked`, async () => {
  const { engine, dispose } = await withEngine('20-29');
  try {
    const result = await soak(engine, cycles);
    assert.equal(result.failures, 0);
    assert.equal(result.dumpMs.length, cycles);
    assert.deepEqual(result.after, result.before, 'iptables rules, X locks, fds, mounts and zombies as before');
  } finally {
    await dispose();
  }
});
