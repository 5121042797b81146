// Reconcile's plan, from a record and the facts about its processes: pure, no root, no desktop.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mayNeedReconcile, planReconcile } from '../server/desktops/reconcile';
import type { CheckpointRecord, DesktopRecord } from '../server/desktops/records';
import type { DesktopState } from '../lib/states';

const at = '2026-11-30T00:00:00.000Z';
function desktop(state: DesktopState, extra: Partial<DesktopRecord> = {}): DesktopRecord {
  return { id: 'd-00000001', display: 20, vncPort: 5920, geometry: '640x480', apps: [], vncPassword: 'abcdefgh', state, pid: 4242, pidStartTime: '99', createdAt: at, updatedAt: at, ...extra };
}
function checkpoint(extra: Partial<CheckpointRecord> = {}): CheckpointRecord {
  return { id: 'c-00000001', desktop: 'd-00000001', createdAt: at, state: 'dumping', leaveRunning: false, command: [], logPath: '/l', restores: [], ...extra };
}
const dumping = (cp = checkpoint()) => desktop('checkpointing', { lastOperation: { kind: 'dump', checkpoint: cp.id, startedAt: at, criuPid: 77 } });
const restoring = (command: string[] = []) => desktop('restoring', { pid: undefined, lastOperation: { kind: 'restore', checkpoint: 'c-00000001', startedAt: at, command } });
const summary = (steps: ReturnType<typeof planReconcile>) => steps.map((s) => (s.do === 'setState' ? `${s.do} ${s.state} ${s.event.type}${s.event.operation ? ` ${s.event.operation}` : ''}` : s.do));

describe('reconcile plan', () => {
  test('nothing to do for a running desktop that is alive, or a desktop at rest', () => {
    assert.deepEqual(planReconcile(desktop('running'), { alive: true }), []);
    for (const state of ['checkpointed', 'stopped', 'failed'] as const) {
      assert.equal(mayNeedReconcile(desktop(state), false), false, state);
      assert.deepEqual(planReconcile(desktop(state), { alive: false }), []);
    }
  });

  test('a running desktop that died: failed, with the event that tells the pages', () => {
    const [step] = planReconcile(desktop('running'), { alive: false });
    assert.ok(step.do === 'setState');
    assert.equal(step.state, 'failed');
    assert.equal(step.changes.pid, undefined);
    assert.deepEqual([step.event.type, step.event.error?.code], ['failed', 'gone']);
  });

  test('a start whose starter died: running if the tree lives, else failed as a start', () => {
    assert.deepEqual(summary(planReconcile(desktop('starting'), { alive: true })), ['setState running started']);
    assert.deepEqual(summary(planReconcile(desktop('starting'), { alive: false })), ['setState failed failed start']);
  });

  test('a criu still at work: nothing is judged yet', () => {
    assert.deepEqual(planReconcile(dumping(), { alive: false, criuAtWork: true }), []);
    assert.deepEqual(planReconcile(restoring(), { alive: false, criuAtWork: true }), []);
  });

  test('a dump that completed after its server died is sealed, the desktop checkpointed', () => {
    const cp = checkpoint();
    const steps = planReconcile(dumping(cp), { alive: false, checkpoint: cp, dumpSucceeded: true });
    assert.deepEqual(summary(steps), ['sealCheckpoint', 'setState checkpointed checkpointed']);
    const set = steps[1];
    assert.ok(set.do === 'setState');
    assert.equal(set.changes.lastCheckpoint, cp.id);
    assert.equal(set.changes.lastOperation?.criuPid, undefined);
  });

  test("a dump that completed while its tree is still on its way out: the tree's end awaited, then sealed", () => {
    const cp = checkpoint();
    assert.deepEqual(summary(planReconcile(dumping(cp), { alive: true, checkpoint: cp, dumpSucceeded: true })), ['endTree', 'sealCheckpoint', 'setState checkpointed checkpointed']);
  });

  test('an interrupted dump: the checkpoint failed; the desktop runs on if its tree lives, else failed', () => {
    const cp = checkpoint();
    assert.deepEqual(summary(planReconcile(dumping(cp), { alive: true, checkpoint: cp, dumpSucceeded: false })), ['failCheckpoint', 'setState running failed dump']);
    assert.deepEqual(summary(planReconcile(dumping(cp), { alive: false, checkpoint: cp, dumpSucceeded: false })), ['failCheckpoint', 'setState failed failed dump']);
    // A snapshot (--leave-running) whose tree lives is not sealed: it was the tree, not the dump, that went on.
    const snapshot = checkpoint({ leaveRunning: true });
    assert.deepEqual(summary(planReconcile(dumping(snapshot), { alive: true, checkpoint: snapshot, dumpSucceeded: true })), ['failCheckpoint', 'setState running failed dump']);
    // The facts it was judged by are in the error, for whoever reads why.
    const [failCp, setFailed] = planReconcile(dumping(cp), { alive: false, checkpoint: cp, dumpSucceeded: false, dumpLastLine: 'Dumping FAILED.' });
    assert.ok(failCp.do === 'failCheckpoint' && setFailed.do === 'setState');
    assert.deepEqual(failCp.error.errors, ['criu (PID 77) is not at work', 'its dump log does not say the dump succeeded (it ends: Dumping FAILED.)', "the desktop's root (PID 4242) is gone"]);
    assert.deepEqual(setFailed.changes.lastError?.errors, failCp.error.errors);
    // A checkpoint already judged is left as it is.
    const done = checkpoint({ state: 'failed' });
    assert.deepEqual(summary(planReconcile(dumping(done), { alive: false, checkpoint: done })), ['setState failed failed dump']);
  });

  test('a restore whose server died: running on the restored root, or failed as a restore', () => {
    const steps = planReconcile(restoring(['criu', 'restore', '--tcp-established']), { alive: false, restoredRoot: { pid: 5151, startTime: '7' } });
    assert.deepEqual(summary(steps), ['setState running restored']);
    const [set] = steps;
    assert.ok(set.do === 'setState');
    assert.deepEqual([set.changes.pid, set.changes.pidStartTime, set.changes.lastCheckpoint, set.event.connections], [5151, '7', 'c-00000001', 'kept']);
    const closed = planReconcile(restoring(['criu', 'restore', '--tcp-close']), { alive: false, restoredRoot: { pid: 5151, startTime: '7' } })[0];
    assert.ok(closed.do === 'setState' && closed.event.connections === 'closed');
    assert.deepEqual(summary(planReconcile(restoring(), { alive: false })), ['setState failed failed restore']);
  });

  test('a stop its server did not live to finish is finished', () => {
    assert.deepEqual(planReconcile(desktop('stopping'), { alive: true }), [{ do: 'finishStop' }]);
    assert.deepEqual(planReconcile(desktop('stopping'), { alive: false }), [{ do: 'finishStop' }]);
  });
});
