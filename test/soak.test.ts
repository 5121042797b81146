// A short soak in CI (bench/soak.mts runs the long one): cycles with a viewer connected leak nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withEngine } from './support/engineFixture';
import { soak } from './support/soak';

const cycles = Number(process.env.FREEZEFRAME_SOAK_CYCLES ?? 10);

test(`${cycles} checkpoint/restore cycles with a viewer connected: no failure, nothing leaked, the retention policy keeps 3`, async () => {
  const { engine, dispose } = await withEngine('20-29');
  try {
    const result = await soak(engine, { cycles, keepLast: 3 });
    // The policy ran after each checkpoint: never more than 3 kept, whatever the cycle.
    assert.deepEqual(result.samples.map((s) => s.checkpoints), result.samples.map((s) => Math.min(s.cycle, 3)));
    assert.equal(result.failures, 0);
    assert.equal(result.dumpMs.length, cycles);
    assert.deepEqual(result.after, result.before, 'iptables rules, X locks, fds, mounts and zombies as before');
  } finally {
    await dispose();
  }
});
