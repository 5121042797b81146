// The freeze gate's state machine alone: which desktop events move it, which it refuses, what each move does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Gate, gateInput, gateTransitions, type GatePhase } from '../server/bridge/gate';
import type { DesktopEvent, DesktopEventType } from '../server/desktops/events';
import type { CheckpointRecord, DesktopRecord } from '../server/desktops/records';
import type { DesktopState } from '../lib/states';

function event(type: DesktopEventType, state: DesktopState, extra: Partial<DesktopEvent> & { checkpointId?: string } = {}): DesktopEvent {
  const { checkpointId, ...rest } = extra;
  const desktop = { id: 'd-gate', display: 40, vncPort: 5940, state } as DesktopRecord;
  const checkpoint = checkpointId ? ({ id: checkpointId, desktop: 'd-gate' } as CheckpointRecord) : undefined;
  return { type, desktop, checkpoint, ...rest };
}

/** A gate brought to phase by the events that really lead there. */
function gateIn(phase: GatePhase): Gate {
  const gate = new Gate();
  if (phase === 'holding') assert.equal(gate.apply(event('checkpointing', 'checkpointing', { checkpointId: 'c-1' })).ok, true);
  assert.equal(gate.phase, phase);
  return gate;
}

describe('freeze gate', () => {
  test('a new gate is open', () => {
    assert.equal(new Gate().phase, 'open');
  });

  test('the events the brief lists, as inputs', () => {
    assert.equal(gateInput(event('checkpointing', 'checkpointing')), 'freezeStarts');
    assert.equal(gateInput(event('checkpointed', 'checkpointed')), 'frozen');
    assert.equal(gateInput(event('checkpointed', 'running')), 'treeResumed');
    assert.equal(gateInput(event('failed', 'running', { operation: 'dump' })), 'treeResumed');
    assert.equal(gateInput(event('failed', 'failed', { operation: 'dump' })), 'treeLost');
    assert.equal(gateInput(event('failed', 'checkpointed', { operation: 'restore' })), 'restoreFailed');
    assert.equal(gateInput(event('failed', 'failed', { operation: 'start' })), 'startFailed');
    assert.equal(gateInput(event('restoring', 'restoring')), 'restoring');
    assert.equal(gateInput(event('restored', 'running')), 'restored');
    assert.equal(gateInput(event('started', 'running')), 'started');
    assert.equal(gateInput(event('stopped', 'stopped')), 'stopped');
    // Before Xvnc dies: the viewers hear "stopped" (4004) and do not reconnect into the dying desktop.
    assert.equal(gateInput(event('stopping', 'running')), 'stopped');
    // Moved to another host: its viewers connect anew (relayed there), not "stopped".
    assert.equal(gateInput(event('moved', 'stopped')), 'moved');
  });

  const allowed: [GatePhase, DesktopEvent, GatePhase, string][] = [
    ['open', event('checkpointing', 'checkpointing', { checkpointId: 'c-2' }), 'holding', 'hold'],
    ['holding', event('restored', 'running', { checkpointId: 'c-1' }), 'open', 'release'],
    ['holding', event('failed', 'running', { operation: 'dump' }), 'open', 'release'],
    ['holding', event('checkpointed', 'running', { checkpointId: 'c-1' }), 'open', 'release'],
    ['holding', event('checkpointed', 'checkpointed', { checkpointId: 'c-1' }), 'holding', 'none'],
    ['holding', event('restoring', 'restoring'), 'holding', 'none'],
    ['holding', event('failed', 'checkpointed', { operation: 'restore' }), 'holding', 'none'],
    ['holding', event('failed', 'failed', { operation: 'dump' }), 'open', 'closeLost'],
    ['holding', event('stopped', 'stopped'), 'open', 'closeStopped'],
    ['open', event('stopped', 'stopped'), 'open', 'closeStopped'],
    ['open', event('stopping', 'running'), 'open', 'closeStopped'],
    ['holding', event('stopping', 'checkpointed'), 'open', 'closeStopped'],
    ['open', event('started', 'running'), 'open', 'none'],
    ['open', event('restoring', 'restoring'), 'open', 'none'],
    ['open', event('restored', 'running'), 'open', 'none'],
    ['open', event('failed', 'stopped', { operation: 'restore' }), 'open', 'none'],
    // A move's end on the source: the held bytes go nowhere, the viewers reconnect (4001) to where it runs now.
    ['holding', event('moved', 'stopped'), 'open', 'closeLost'],
    ['open', event('moved', 'stopped'), 'open', 'closeLost'],
  ];
  for (const [from, e, to, effect] of allowed) {
    test(`allowed: ${from} --${e.type}${e.operation ? `(${e.operation})` : ''}/${e.desktop.state}--> ${to} (${effect})`, () => {
      const gate = gateIn(from);
      const step = gate.apply(e);
      assert.ok(step.ok, !step.ok ? step.reason : '');
      assert.equal(step.from, from);
      assert.equal(step.to, to);
      assert.equal(step.effect, effect);
      assert.equal(gate.phase, to);
    });
  }

  const refused: [GatePhase, DesktopEvent][] = [
    // A second dump cannot start while the desktop is frozen.
    ['holding', event('checkpointing', 'checkpointing')],
    ['holding', event('started', 'running')],
    ['holding', event('failed', 'failed', { operation: 'start' })],
    // The freeze's start was never seen (e.g. this server started in the middle of it).
    ['open', event('checkpointed', 'checkpointed')],
    ['open', event('checkpointed', 'running')],
    ['open', event('failed', 'running', { operation: 'dump' })],
    ['open', event('failed', 'failed', { operation: 'dump' })],
  ];
  for (const [from, e] of refused) {
    test(`refused: ${from} --${e.type}${e.operation ? `(${e.operation})` : ''}/${e.desktop.state}`, () => {
      const gate = gateIn(from);
      const frozenIn = gate.frozenIn;
      const step = gate.apply(e);
      assert.equal(step.ok, false);
      assert.match(!step.ok ? step.reason : '', new RegExp(`a ${from} gate takes no`));
      assert.equal(gate.phase, from, 'a refused input changes nothing');
      assert.equal(gate.frozenIn, frozenIn);
    });
  }

  test('every transition in the table leads to a phase and only holding is reached by hold', () => {
    for (const [from, rules] of Object.entries(gateTransitions)) {
      for (const [input, rule] of Object.entries(rules)) {
        assert.ok(rule.to === 'open' || rule.to === 'holding', `${from}/${input}`);
        if (rule.effect === 'hold') assert.equal(rule.to, 'holding', `${from}/${input}`);
        if (rule.effect === 'release') assert.deepEqual([from, rule.to], ['holding', 'open'], `${from}/${input}`);
      }
    }
  });

  test('remembers which checkpoint it holds for, and which one the desktop was restored from', () => {
    const gate = new Gate();
    gate.apply(event('checkpointing', 'checkpointing', { checkpointId: 'c-7' }));
    assert.equal(gate.frozenIn, 'c-7');
    gate.apply(event('checkpointed', 'checkpointed', { checkpointId: 'c-7' }));
    assert.equal(gate.frozenIn, 'c-7', 'the freeze goes on after the dump');
    const step = gate.apply(event('restored', 'running', { checkpointId: 'c-3' }));
    assert.ok(step.ok, 'a restore while holding is a transition');
    assert.equal(step.frozenIn, 'c-7');
    assert.equal(step.restoredFrom, 'c-3');
    assert.equal(gate.frozenIn, undefined);
  });
});
