// The presenter's auto-cycle as a pure state machine: checkpoint, stay frozen N s, restore, run M s, again; it
// counts the cycles, stops at the first failure (keeping the error), and never leaves the desktop frozen when asked
// to stop. It only says what to do next (an effect); the page does it and reports back.

export type CyclePhase = 'idle' | 'checkpointing' | 'frozen' | 'restoring' | 'running';

export interface CycleSettings {
  /** How long the desktop stays frozen (N). */
  freezeMs: number;
  /** How long it runs between two cycles (M). */
  runMs: number;
  /** Stop after this many cycles; 0: until stopped. */
  limit: number;
}

export interface CycleState extends CycleSettings {
  phase: CyclePhase;
  /** Cycles completed (restored) since the last start. */
  completed: number;
  /** Failures since the page opened (each one stopped a run). */
  failures: number;
  /** Stop was asked: no new checkpoint; a frozen desktop is restored first. */
  stopping: boolean;
  /** Why the last run stopped, when it failed. */
  error?: string;
  /** When the current wait ends (frozen, running), on the page's clock: for the countdown. */
  until?: number;
  /**
   * Which effect the machine waits for. Every effect carries it and every report must bring it back: a timer or an
   * action of an earlier run (stopped, restarted) cannot move this one.
   */
  seq: number;
}

export type CycleInput =
  | ({ type: 'start'; at: number } & CycleSettings)
  | { type: 'stop' }
  /** The effect seq (checkpoint, restore) succeeded. */
  | { type: 'done'; seq: number; at: number }
  | { type: 'failed'; seq: number; error: string }
  /** The wait of effect seq is over. */
  | { type: 'elapsed'; seq: number; at: number };

export type CycleEffect =
  | { do: 'checkpoint'; seq: number }
  | { do: 'restore'; seq: number }
  | { do: 'wait'; seq: number; ms: number };

export const initialCycle: CycleState = { phase: 'idle', freezeMs: 3_000, runMs: 3_000, limit: 0, completed: 0, failures: 0, stopping: false, seq: 0 };

type Step = { state: CycleState; effect?: CycleEffect };

const same = (state: CycleState): Step => ({ state });

function go(state: CycleState, phase: CyclePhase, effect: 'checkpoint' | 'restore', changes: Partial<CycleState> = {}): Step {
  const seq = state.seq + 1;
  return { state: { ...state, ...changes, phase, seq, until: undefined }, effect: { do: effect, seq } };
}

function wait(state: CycleState, phase: CyclePhase, ms: number, at: number, changes: Partial<CycleState> = {}): Step {
  const seq = state.seq + 1;
  return { state: { ...state, ...changes, phase, seq, until: at + ms }, effect: { do: 'wait', seq, ms } };
}

const idle = (state: CycleState, changes: Partial<CycleState> = {}): Step => ({
  state: { ...state, ...changes, phase: 'idle', stopping: false, until: undefined, seq: state.seq + 1 },
});

/** The next state, and what to do now (if anything). */
export function stepCycle(state: CycleState, input: CycleInput): Step {
  if (input.type === 'start') {
    if (state.phase !== 'idle') return same(state);
    const { freezeMs, runMs, limit } = input;
    if (!(freezeMs >= 0 && runMs >= 0 && Number.isInteger(limit) && limit >= 0)) return same(state);
    return go(state, 'checkpointing', 'checkpoint', { freezeMs, runMs, limit, completed: 0, error: undefined, stopping: false });
  }
  if (state.phase === 'idle') return same(state);
  if (input.type === 'stop') {
    // Waiting frozen: restore now. Mid-operation: let it finish, then restore (or just end).
    if (state.phase === 'frozen') return go(state, 'restoring', 'restore', { stopping: true });
    if (state.phase === 'running') return idle(state);
    return same({ ...state, stopping: true });
  }
  if (input.seq !== state.seq) return same(state); // a report from an earlier effect
  if (input.type === 'failed') return idle(state, { failures: state.failures + 1, error: input.error });
  const { at } = input;
  switch (state.phase) {
    case 'checkpointing':
      if (input.type !== 'done') return same(state);
      return state.stopping ? go(state, 'restoring', 'restore') : wait(state, 'frozen', state.freezeMs, at);
    case 'frozen':
      return input.type === 'elapsed' ? go(state, 'restoring', 'restore') : same(state);
    case 'restoring': {
      if (input.type !== 'done') return same(state);
      const completed = state.completed + 1;
      if (state.stopping || (state.limit > 0 && completed >= state.limit)) return idle(state, { completed });
      return wait(state, 'running', state.runMs, at, { completed });
    }
    case 'running':
      return input.type === 'elapsed' ? go(state, 'checkpointing', 'checkpoint') : same(state);
  }
}

/** "frozen, restoring in 2.1 s" and the like, for the panel. */
export function describeCycle(state: CycleState, now: number): string {
  const left = state.until !== undefined ? `${(Math.max(0, state.until - now) / 1000).toFixed(1)} s` : '';
  const stopping = state.stopping ? ' (stopping)' : '';
  switch (state.phase) {
    case 'idle':
      return state.error ? 'Stopped by a failure' : state.completed ? 'Done' : 'Off';
    case 'checkpointing':
      return `Checkpointing…${stopping}`;
    case 'frozen':
      return `Frozen, restoring in ${left}`;
    case 'restoring':
      return `Restoring…${stopping}`;
    case 'running':
      return `Running, next checkpoint in ${left}`;
  }
}

/** The panel's fields as typed: seconds frozen (N), seconds running (M), how many cycles (0: until stopped). */
export interface CycleInputs {
  freeze: string;
  run: string;
  times: string;
}

/** The panel's fields as settings; undefined while one is not a valid number. */
export function parseCycleInputs(inputs: CycleInputs): CycleSettings | undefined {
  const number = (text: string) => (text.trim() === '' ? NaN : Number(text));
  const [freeze, run, times] = [number(inputs.freeze), number(inputs.run), number(inputs.times)];
  if (!(freeze >= 0 && run >= 0 && Number.isInteger(times) && times >= 0)) return undefined;
  return { freezeMs: Math.round(freeze * 1000), runMs: Math.round(run * 1000), limit: times };
}
