// Per-step timings of one operation, printed to stderr when FREEZEFRAME_TRACE=1: how issue #13's overhead was
// profiled (bench/README.md). Off, it costs one branch per step.
const on = process.env.FREEZEFRAME_TRACE === '1';

export interface Trace {
  /** The time since the previous step (or the start), under this label. */
  step(label: string): void;
  /** Prints the steps and the total. */
  done(note?: string): void;
}

const off: Trace = { step() {}, done() {} };

export function trace(name: string): Trace {
  if (!on) return off;
  const t0 = performance.now();
  let last = t0;
  const steps: string[] = [];
  return {
    step(label) {
      const now = performance.now();
      steps.push(`${label} ${(now - last).toFixed(1)}`);
      last = now;
    },
    done(note) {
      console.error(`[trace] ${name}${note ? ` ${note}` : ''} total ${(performance.now() - t0).toFixed(1)} ms: ${steps.join(' | ')}`);
    },
  };
}
