'use client';
// Drives the auto-cycle machine (autoCycle.ts): runs its effects (checkpoint, restore, wait) and reports back.
import { useEffect, useRef, useState } from 'react';
import { initialCycle, stepCycle, type CycleEffect, type CycleInput, type CycleSettings, type CycleState } from './autoCycle';

/** An operation that resolves to whether it succeeded, and why not. */
export type CycleOperation = () => Promise<{ ok: true } | { ok: false; error: string }>;

export function useAutoCycle(operations: { checkpoint: CycleOperation; restore: CycleOperation }) {
  const [state, setState] = useState<CycleState>(initialCycle);
  const stateRef = useRef(initialCycle);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const mounted = useRef(true);
  // The latest operations (they close over the page's current state), for effects that run later.
  const ops = useRef(operations);
  useEffect(() => {
    ops.current = operations;
  });

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      clearTimeout(timer.current);
    };
  }, []);

  const dispatch = (input: CycleInput) => {
    if (!mounted.current) return;
    const { state: next, effect } = stepCycle(stateRef.current, input);
    stateRef.current = next;
    setState(next);
    if (next.phase === 'idle' || next.phase === 'checkpointing' || next.phase === 'restoring') clearTimeout(timer.current);
    if (effect) perform(effect);
  };

  const perform = (effect: CycleEffect) => {
    const { seq } = effect;
    if (effect.do === 'wait') {
      clearTimeout(timer.current);
      timer.current = setTimeout(() => dispatch({ type: 'elapsed', seq, at: Date.now() }), effect.ms);
      return;
    }
    const operation = effect.do === 'checkpoint' ? ops.current.checkpoint : ops.current.restore;
    operation().then(
      (result) => dispatch(result.ok ? { type: 'done', seq, at: Date.now() } : { type: 'failed', seq, error: result.error }),
      (error: unknown) => dispatch({ type: 'failed', seq, error: (error as Error).message }),
    );
  };

  return {
    state,
    start: (settings: CycleSettings) => dispatch({ type: 'start', at: Date.now(), ...settings }),
    stop: () => dispatch({ type: 'stop' }),
    active: state.phase !== 'idle',
  };
}
