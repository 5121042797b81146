// Presenter mode and the audience link, without a desktop: the auto-cycle machine, the step list, the freeze
// timer, view tokens and what they open, and the two-password file Xvnc reads.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { initialCycle, parseCycleInputs, stepCycle, type CycleEffect, type CycleInput, type CycleState } from '../components/presenter/autoCycle';
import { noteOperation } from '../components/presenter/steps';
import { stopwatch } from '../components/presenter/stopwatch';
import type { DesktopRecord } from '../server/desktops/records';
import { vncPasswordFile } from '../server/vnc/vncAuth';
import { toWatchView } from '../lib/watchView';

/** Feeds inputs one after another; returns every state and effect on the way. */
function run(inputs: CycleInput[], from: CycleState = initialCycle) {
  let state = from;
  const effects: (CycleEffect | undefined)[] = [];
  for (const input of inputs) {
    const step = stepCycle(state, input);
    state = step.state;
    effects.push(step.effect);
  }
  return { state, effects };
}

const start = (limit = 0) => ({ type: 'start' as const, at: 0, freezeMs: 1000, runMs: 2000, limit });

describe('auto-cycle', () => {
  test('checkpoint, wait N, restore, wait M, again; the counter counts restores', () => {
    let s = initialCycle;
    const next = (input: CycleInput) => {
      const step = stepCycle(s, input);
      s = step.state;
      return step.effect;
    };
    assert.deepEqual(next(start()), { do: 'checkpoint', seq: 1 });
    assert.equal(s.phase, 'checkpointing');
    assert.deepEqual(next({ type: 'done', seq: 1, at: 100 }), { do: 'wait', seq: 2, ms: 1000 });
    assert.equal(s.phase, 'frozen');
    assert.equal(s.until, 1100);
    assert.deepEqual(next({ type: 'elapsed', seq: 2, at: 1100 }), { do: 'restore', seq: 3 });
    assert.deepEqual(next({ type: 'done', seq: 3, at: 1200 }), { do: 'wait', seq: 4, ms: 2000 });
    assert.deepEqual([s.phase, s.completed, s.until], ['running', 1, 3200]);
    assert.deepEqual(next({ type: 'elapsed', seq: 4, at: 3200 }), { do: 'checkpoint', seq: 5 });
    assert.equal(s.phase, 'checkpointing');
  });

  test('a limit of 2 ends after the second restore', () => {
    const cycleOnce = (seq: number): CycleInput[] => [
      { type: 'done', seq, at: 0 },
      { type: 'elapsed', seq: seq + 1, at: 0 },
      { type: 'done', seq: seq + 2, at: 0 },
    ];
    const { state, effects } = run([start(2), ...cycleOnce(1), { type: 'elapsed', seq: 4, at: 0 }, ...cycleOnce(5)]);
    assert.equal(state.phase, 'idle');
    assert.equal(state.completed, 2);
    assert.equal(effects.at(-1), undefined, 'nothing more to do');
    assert.equal(effects.filter((e) => e?.do === 'checkpoint').length, 2);
  });

  test('the first failure stops the run and keeps the error; failures add up over runs', () => {
    let { state } = run([start(), { type: 'failed', seq: 1, error: 'criu dump exited 1' }]);
    assert.deepEqual([state.phase, state.failures, state.error], ['idle', 1, 'criu dump exited 1']);
    ({ state } = run([start(), { type: 'done', seq: state.seq + 1, at: 0 }], state));
    assert.equal(state.error, undefined, 'a new run clears the last error');
    assert.equal(state.failures, 1);
    ({ state } = run([{ type: 'elapsed', seq: state.seq, at: 0 }, { type: 'failed', seq: state.seq + 1, error: 'restore failed' }], state));
    assert.deepEqual([state.phase, state.failures, state.error], ['idle', 2, 'restore failed']);
  });

  test('stop never leaves the desktop frozen', () => {
    // Waiting frozen: restore at once, then end.
    let { state, effects } = run([start(), { type: 'done', seq: 1, at: 0 }, { type: 'stop' }]);
    assert.deepEqual(effects.at(-1), { do: 'restore', seq: 3 });
    ({ state } = run([{ type: 'done', seq: 3, at: 0 }], state));
    assert.deepEqual([state.phase, state.completed], ['idle', 1]);
    // Mid-checkpoint: the checkpoint finishes, the restore follows, then it ends.
    ({ state, effects } = run([start(), { type: 'stop' }], initialCycle));
    assert.deepEqual([state.phase, state.stopping, effects.at(-1)], ['checkpointing', true, undefined]);
    ({ state, effects } = run([{ type: 'done', seq: 1, at: 0 }], state));
    assert.deepEqual(effects.at(-1), { do: 'restore', seq: 2 });
    ({ state } = run([{ type: 'done', seq: 2, at: 0 }], state));
    assert.equal(state.phase, 'idle');
    // Running between cycles: end now.
    ({ state } = run([start(), { type: 'done', seq: 1, at: 0 }, { type: 'elapsed', seq: 2, at: 0 }, { type: 'done', seq: 3, at: 0 }, { type: 'stop' }], initialCycle));
    assert.deepEqual([state.phase, state.completed], ['idle', 1]);
  });

  test('reports of earlier effects (a stale timer, a late result) move nothing', () => {
    const { state } = run([start(), { type: 'done', seq: 1, at: 0 }, { type: 'stop' }, { type: 'elapsed', seq: 2, at: 5 }]);
    assert.deepEqual([state.phase, state.seq], ['restoring', 3], 'the freeze timer of before the stop is ignored');
    const again = run([{ type: 'done', seq: 1, at: 0 }], state);
    assert.equal(again.state, state);
    const idle = run([{ type: 'done', seq: 0, at: 0 }, { type: 'stop' }]);
    assert.equal(idle.state, initialCycle, 'idle ignores everything but start');
  });

  test('start is refused while running and with bad settings', () => {
    const { state } = run([start()]);
    assert.equal(stepCycle(state, start()).state, state);
    assert.equal(stepCycle(initialCycle, { ...start(), freezeMs: -1 }).effect, undefined);
    assert.equal(stepCycle(initialCycle, { ...start(), limit: 1.5 }).effect, undefined);
  });

  test('the panel fields become settings', () => {
    assert.deepEqual(parseCycleInputs({ freeze: '1', run: '0.5', times: '2' }), { freezeMs: 1000, runMs: 500, limit: 2 });
    assert.equal(parseCycleInputs({ freeze: '', run: '1', times: '0' }), undefined);
    assert.equal(parseCycleInputs({ freeze: '1', run: '-1', times: '0' }), undefined);
    assert.equal(parseCycleInputs({ freeze: '1', run: '1', times: '1.5' }), undefined);
  });
});

const record = (changes: Partial<DesktopRecord>): DesktopRecord => ({
  id: 'd-00000001', display: 100, vncPort: 6000, geometry: '800x600', apps: ['xterm'], vncPassword: 'CTRLpass', vncViewPassword: 'VIEWpass',
  state: 'running', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', ...changes,
});

describe('step list', () => {
  const command = ['/criu', 'dump', '--tree', '42'];
  test('an operation is one step, from running to its verdict', () => {
    const startedAt = '2026-01-01T00:00:01.000Z';
    let steps = noteOperation([], record({ state: 'checkpointing', lastOperation: { kind: 'dump', checkpoint: 'c-1', startedAt, command } }));
    assert.equal(steps.length, 1);
    assert.equal(steps[0].ok, undefined);
    assert.deepEqual(steps[0].command, command, 'the command is there while criu runs');
    const done = record({ state: 'checkpointed', lastOperation: { kind: 'dump', checkpoint: 'c-1', startedAt, command, ms: 150, ok: true, verdict: 'Dumping finished successfully' } });
    steps = noteOperation(steps, done);
    assert.equal(steps.length, 1);
    assert.deepEqual([steps[0].ok, steps[0].ms, steps[0].verdict], [true, 150, 'Dumping finished successfully']);
    const stale = noteOperation(steps, record({ state: 'checkpointing', lastOperation: { kind: 'dump', checkpoint: 'c-1', startedAt } }));
    assert.equal(stale, steps, 'an older read does not take a finished step back');
  });
  test('a failed step carries CRIU’s errors; start and stop are no criu steps', () => {
    const failed = record({
      lastOperation: { kind: 'restore', checkpoint: 'c-1', startedAt: '2026-01-01T00:00:02.000Z', command, ok: false },
      lastError: { code: 'criu', message: 'criu restore exited 1', errors: ['Error (x.c:1): boom'], hint: 'do this' },
    });
    const [step] = noteOperation([], failed);
    assert.deepEqual([step.ok, step.message, step.errors, step.hint], [false, 'criu restore exited 1', ['Error (x.c:1): boom'], 'do this']);
    assert.deepEqual(noteOperation([], record({ lastOperation: { kind: 'start', startedAt: '2026-01-01T00:00:00.000Z', ok: true } })), []);
  });
});

test('the freeze timer reads mm:ss.t', () => {
  assert.equal(stopwatch(0), '00:00.0');
  assert.equal(stopwatch(12_345), '00:12.3');
  assert.equal(stopwatch(61_999), '01:01.9');
  assert.equal(stopwatch(3_723_400), '1:02:03.4');
});

test('the watch view holds the view-only password, never the control one', () => {
  const view = toWatchView(record({ state: 'checkpointed', lastOperation: { kind: 'dump', startedAt: 'x', command: ['/criu'], ok: true, ms: 5 } }), '2026-01-01T00:00:03.000Z');
  assert.equal(view.vncViewPassword, 'VIEWpass');
  assert.equal(view.frozenSince, '2026-01-01T00:00:03.000Z');
  assert.ok(!JSON.stringify(view).includes('CTRLpass'), 'no control password');
  assert.ok(!JSON.stringify(view).includes('/criu'), 'no command lines');
  assert.equal(toWatchView(record({ state: 'running' }), 'x').frozenSince, undefined);
});

test('vnc.passwd holds the view-only password after the control one', () => {
  const one = vncPasswordFile('CTRLpass');
  const both = vncPasswordFile('CTRLpass', 'VIEWpass');
  assert.equal(one.length, 8);
  assert.equal(both.length, 16);
  assert.deepEqual(both.subarray(0, 8), one);
  assert.deepEqual(both.subarray(8), vncPasswordFile('VIEWpass'));
});

describe('view tokens', () => {
  const token = 'control-token-0123456789';

  /** A request through createAuth's allowRequest: the status it got (200 when let through), and its headers. */
  async function ask(url: string, { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {}) {
    const { createAuth } = await import('../server/auth');
    const auth = createAuth('0.0.0.0', token);
    let status = 200;
    let sent: Record<string, string> = {};
    const res = { writeHead: (s: number, h: Record<string, string>) => ((status = s), (sent = h)), end: () => {} } as unknown as ServerResponse;
    const req = { url, method, headers } as IncomingMessage;
    const allowed = auth.allowRequest(req, res);
    assert.equal(allowed, status === 200);
    return { status, headers: sent, upgrade: auth.checkUpgrade(req) };
  }

  test('a view token names its desktop and cannot be forged or moved to another', async () => {
    const { deriveViewToken, viewTokenDesktop } = await import('../server/auth');
    const view = deriveViewToken(token, 'd-0000abcd');
    assert.match(view, /^d-0000abcd\.[\w-]{43}$/);
    assert.equal(viewTokenDesktop(token, view), 'd-0000abcd');
    assert.equal(viewTokenDesktop('another-token', view), undefined, 'another server');
    assert.equal(viewTokenDesktop(token, view.replace('d-0000abcd', 'd-0000abce')), undefined, 'another desktop');
    assert.equal(viewTokenDesktop(token, token), undefined);
    assert.equal(viewTokenDesktop(token, undefined), undefined);
    const { createAuth } = await import('../server/auth');
    assert.equal(createAuth('0.0.0.0', token).viewToken('d-0000abcd'), view);
    assert.equal(createAuth('127.0.0.1', token).viewToken('d-0000abcd'), undefined, 'loopback: no tokens at all');
  });

  test('it opens the watch page, its reads, its static files and its VNC; nothing else (403)', async () => {
    const { deriveViewToken } = await import('../server/auth');
    const view = deriveViewToken(token, 'd-0000abcd');
    const cookie = `freezeframe_view=${encodeURIComponent(view)}`;
    for (const url of ['/desktops/d-0000abcd/watch', '/desktops/d-0000abcd/watch?_rsc=1x2', '/api/desktops/d-0000abcd/watch', '/api/desktops/d-0000abcd/watch/events', '/_next/static/chunks/app/desktops/%5Bid%5D/watch/page-0a1b.js', '/icon.svg']) {
      assert.equal((await ask(url, { headers: { cookie } })).status, 200, url);
      assert.equal((await ask(url, { headers: { authorization: `Bearer ${view}` } })).status, 200, `${url} with a bearer`);
    }
    for (const url of ['/', '/desktops/d-0000abcd', '/desktops/d-0000abcd/present', '/api/desktops', '/api/desktops/d-0000abcd', '/api/events', '/desktops/d-0000abce/watch', '/api/desktops/d-0000abce/watch/events', '/_next/static/../../api/desktops', '/_next/static/%2e%2e/x', '/desktops/d-0000abcd/watch/../../d-0000abcd']) {
      assert.equal((await ask(url, { headers: { cookie } })).status, 403, url);
    }
    // Actions are POSTs to a page; API writes are POSTs and DELETEs.
    for (const [method, url] of [['POST', '/desktops/d-0000abcd/watch'], ['POST', '/api/desktops/d-0000abcd/checkpoint'], ['DELETE', '/api/checkpoints/c-00000001'], ['POST', '/api/desktops']]) {
      assert.equal((await ask(url, { method, headers: { cookie } })).status, 403, `${method} ${url}`);
    }
    assert.equal((await ask('/api/desktops/d-0000abcd/vnc', { headers: { cookie } })).upgrade, 200);
    assert.equal((await ask('/api/desktops/d-0000abce/vnc', { headers: { cookie } })).upgrade, 403, "another desktop's VNC");
    assert.equal((await ask('/api/desktops/d-0000abcd/vnc')).upgrade, 401);
    assert.equal((await ask('/api/desktops/d-0000abcd/vnc', { headers: { cookie: `freezeframe_token=${token}` } })).upgrade, 200);
  });

  test('in the URL it becomes its own cookie, on its watch page only', async () => {
    const { deriveViewToken } = await import('../server/auth');
    const view = deriveViewToken(token, 'd-0000abcd');
    const traded = await ask(`/desktops/d-0000abcd/watch?token=${encodeURIComponent(view)}`);
    assert.equal(traded.status, 303);
    assert.equal(traded.headers.Location, '/desktops/d-0000abcd/watch');
    assert.match(traded.headers['Set-Cookie'], /^freezeframe_view=d-0000abcd\.[\w-]+; HttpOnly; SameSite=Lax; Path=\/$/);
    assert.equal((await ask(`/desktops/d-0000abcd?token=${encodeURIComponent(view)}`)).status, 403, 'not on the control page');
    assert.equal((await ask(`/desktops/d-0000abcd/watch?token=${encodeURIComponent(view)}x`)).status, 401, 'a wrong token is no token');
    assert.equal((await ask('/desktops/d-0000abcd/watch')).status, 401);
    const control = await ask(`/desktops/d-0000abcd/watch?token=${token}`);
    assert.match(control.headers['Set-Cookie'], /^freezeframe_token=/, 'the control token still trades for the control cookie');
  });
});
