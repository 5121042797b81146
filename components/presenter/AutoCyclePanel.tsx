'use client';
// The auto-cycle's controls: freeze N s, run M s, how many times; its counter, its failures, its error.
import { useEffect, useState } from 'react';
import { describeCycle, parseCycleInputs, type CycleInputs, type CycleState } from './autoCycle';
import { ActionButton } from '../ActionButton';

interface Props {
  state: CycleState;
  inputs: CycleInputs;
  onInputs: (inputs: CycleInputs) => void;
  onStart: () => void;
  onStop: () => void;
  /** The desktop cannot start a cycle now (not running, another operation under way). */
  startDisabled: boolean;
}

function useTicking(active: boolean): number {
  const [now, setNow] = useState(0);
  useEffect(() => {
    setNow(Date.now());
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

export function AutoCyclePanel({ state, inputs, onInputs, onStart, onStop, startDisabled }: Props) {
  const active = state.phase !== 'idle';
  const now = useTicking(state.until !== undefined);
  const settings = parseCycleInputs(inputs);

  const field = (label: string, name: keyof CycleInputs, testId: string, hint: string, step = '0.5') => (
    <label className="grid gap-1 text-xs text-slate-400" title={hint}>
      {label}
      <input
        type="number"
        min={0}
        step={step}
        value={inputs[name]}
        disabled={active}
        onChange={(e) => onInputs({ ...inputs, [name]: e.target.value })}
        data-testid={testId}
        className="w-full rounded-md border border-white/10 bg-slate-950 px-2 py-1 text-sm tabular-nums text-slate-100 disabled:opacity-50"
      />
    </label>
  );

  return (
    <section data-testid="auto-cycle" data-phase={state.phase} className="grid gap-3 rounded-lg border border-white/10 bg-slate-900/60 p-3">
      <h2 className="flex items-baseline justify-between text-xs font-semibold uppercase tracking-wider text-slate-400">
        Auto-cycle <span className="font-normal normal-case tracking-normal text-slate-500">A starts / stops</span>
      </h2>
      <div className="grid grid-cols-3 gap-2">
        {field('Frozen (s)', 'freeze', 'cycle-freeze', 'N: seconds the desktop stays frozen before the restore')}
        {field('Running (s)', 'run', 'cycle-run', 'M: seconds it runs before the next checkpoint')}
        {field('Times (0 = ∞)', 'times', 'cycle-limit', 'how many cycles, 0 for until stopped', '1')}
      </div>
      <div className="flex items-center gap-3">
        <ActionButton
          type="button"
          data-testid="cycle-toggle"
          onClick={() => (active ? onStop() : onStart())}
          disabled={!active && (startDisabled || !settings)}
          aria-pressed={active}
          className="rounded-md bg-violet-500 px-4 py-1.5 text-sm font-semibold text-white hover:bg-violet-400 disabled:bg-slate-800 disabled:text-slate-500 aria-pressed:bg-red-500/80"
        >
          {active ? (state.stopping ? 'Stopping…' : 'Stop') : 'Start'}
        </ActionButton>
        <span data-testid="cycle-status" className="text-sm text-slate-300">
          {describeCycle(state, now || Date.now())}
        </span>
      </div>
      <dl className="grid grid-cols-2 gap-2 text-center">
        <div className="rounded-md border border-white/10 px-2 py-1">
          <dt className="text-[11px] uppercase tracking-wider text-slate-500">Cycles</dt>
          <dd data-testid="cycle-count" className="text-2xl font-bold tabular-nums text-slate-100">
            {state.completed}
          </dd>
        </div>
        <div className="rounded-md border border-white/10 px-2 py-1">
          <dt className="text-[11px] uppercase tracking-wider text-slate-500">Failures</dt>
          <dd data-testid="cycle-failures" className={`text-2xl font-bold tabular-nums ${state.failures ? 'text-red-300' : 'text-slate-100'}`}>
            {state.failures}
          </dd>
        </div>
      </dl>
      {state.error && (
        <p role="alert" data-testid="cycle-error" className="rounded-md border border-red-500/40 bg-red-500/10 px-3 py-2 text-sm text-red-200">
          Stopped after a failure: {state.error}
        </p>
      )}
    </section>
  );
}
