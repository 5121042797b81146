'use client';
// The stage-sized state line of the presenter and audience pages: RUNNING / CHECKPOINTING / FROZEN 00:12.3 (a live
// timer from the checkpoint's time, on the server's clock) / RESTORING.
import { seconds } from '@/lib/format';
import { useNow } from '@/lib/useNow';
import type { DesktopState } from '@/lib/states';
import { stopwatch } from './stopwatch';

interface Props {
  state: DesktopState;
  /** When the tree was frozen (its checkpoint's time, server clock); the timer runs from it. */
  frozenSince?: string;
  /** Server clock minus this browser's clock. */
  skewMs: number;
  /** The latest operation: "restored in 0.14 s", "dump took 0.16 s". */
  lastOperation?: { kind: string; ms?: number; ok?: boolean };
  failure?: string;
}

const looks: Record<DesktopState, { word: string; look: string }> = {
  running: { word: 'Running', look: 'bg-emerald-500/15 text-emerald-200 border-emerald-400/40' },
  checkpointing: { word: 'Checkpointing', look: 'bg-amber-400/15 text-amber-200 border-amber-400/50 animate-pulse' },
  checkpointed: { word: 'Frozen', look: 'bg-sky-500/20 text-sky-200 border-sky-400/60' },
  restoring: { word: 'Restoring', look: 'bg-amber-400/15 text-amber-200 border-amber-400/50 animate-pulse' },
  starting: { word: 'Starting', look: 'bg-amber-400/10 text-amber-200 border-amber-400/30' },
  stopping: { word: 'Stopping', look: 'bg-slate-500/15 text-slate-300 border-slate-500/40 animate-pulse' },
  stopped: { word: 'Stopped', look: 'bg-slate-500/15 text-slate-300 border-slate-500/40' },
  failed: { word: 'Failed', look: 'bg-red-500/15 text-red-200 border-red-500/50' },
};

export function BigBanner({ state, frozenSince, skewMs, lastOperation: op, failure }: Props) {
  const frozen = state === 'checkpointed';
  const now = useNow(frozen);
  const since = frozen && frozenSince ? Date.parse(frozenSince) : undefined;
  const frozenMs = since !== undefined && now !== null ? Math.max(0, now + skewMs - since) : undefined;
  const { word, look } = looks[state];
  const aside =
    state === 'failed'
      ? failure
      : state === 'running' && op?.kind === 'restore' && op.ok
        ? `restored in ${seconds(op.ms)}`
        : frozen && op?.kind === 'dump' && op.ok
          ? `dump took ${seconds(op.ms)}`
          : undefined;
  return (
    <div
      role="status"
      aria-live="polite"
      data-testid="big-banner"
      data-state={state}
      data-frozen-ms={frozenMs === undefined ? undefined : Math.round(frozenMs)}
      className={`flex items-center justify-between gap-6 border-b-2 px-6 py-3 ${look}`}
    >
      <span className="flex items-baseline gap-5">
        <span className="text-4xl font-black uppercase tracking-widest sm:text-5xl">{word}</span>
        {frozenMs !== undefined && (
          <span data-testid="freeze-timer" className="font-mono text-4xl font-bold tabular-nums sm:text-5xl">
            {stopwatch(frozenMs)}
          </span>
        )}
      </span>
      {aside && <span className="truncate text-lg opacity-80">{aside}</span>}
    </div>
  );
}
