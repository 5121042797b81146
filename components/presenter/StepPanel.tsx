'use client';
// What criu does, step by step as it happens: each operation's exact command line, its duration and its log's
// verdict line (or CRIU's errors), newest first, with a sentence on what the step does.
import { useEffect, useState } from 'react';
import { seconds, shellQuote } from '@/lib/format';
import { explainStep, type OperationStep } from './steps';
import { LocalTime } from '../LocalTime';

/** Time since the step began, on the server's clock (skewMs: server minus browser). */
function Elapsed({ since, skewMs }: { since: string; skewMs: number }) {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(timer);
  }, []);
  return <>{now === null ? '…' : `${seconds(Math.max(0, now + skewMs - Date.parse(since)), 1)}…`}</>;
}

export function StepPanel({ steps, skewMs }: { steps: OperationStep[]; skewMs: number }) {
  return (
    <section className="grid min-h-0 content-start gap-2">
      <h2 className="text-xs font-semibold uppercase tracking-wider text-slate-400">Step by step · what criu does</h2>
      {steps.length === 0 && <p className="text-sm text-slate-500">Press C to checkpoint: each criu command appears here as it runs.</p>}
      <ol className="grid gap-2">
        {steps.toReversed().map((step) => {
          const status = step.ok === undefined ? 'running' : step.ok ? 'ok' : 'failed';
          const tone = status === 'running' ? 'border-amber-400/40' : status === 'ok' ? 'border-emerald-400/30' : 'border-red-500/50';
          return (
            <li key={step.key} data-testid="step" data-kind={step.kind} data-status={status} className={`grid gap-1.5 rounded-lg border bg-slate-900/70 p-2.5 ${tone}`}>
              <div className="flex items-baseline justify-between gap-2 text-sm">
                <span className="font-semibold text-slate-100">
                  {step.kind === 'dump' ? (step.command?.includes('--leave-running') ? 'Snapshot' : 'Checkpoint') : 'Restore'}
                  <span className="ml-2 font-mono text-xs font-normal text-slate-500">{step.checkpoint}</span>
                </span>
                <span className="text-xs text-slate-400">
                  <LocalTime iso={step.startedAt} kind="clock" /> ·{' '}
                  <span data-testid="step-duration" className="font-mono tabular-nums text-slate-200">
                    {status === 'running' ? <Elapsed since={step.startedAt} skewMs={skewMs} /> : seconds(step.ms)}
                  </span>
                </span>
              </div>
              <p className="text-xs leading-snug text-slate-400">{explainStep(step)}</p>
              {!step.command && status === 'running' && (
                <pre className="rounded bg-black/50 px-2 py-1 font-mono text-[11px] text-slate-400">
                  <span className="select-none text-slate-500"># </span>criu {step.kind} …
                </pre>
              )}
              {step.command && (
                <pre data-testid="step-command" className="whitespace-pre-wrap [overflow-wrap:anywhere] rounded bg-black/50 px-2 py-1 font-mono text-[11px] leading-relaxed text-slate-200">
                  <span className="select-none text-slate-500"># </span>
                  {shellQuote(step.command)}
                </pre>
              )}
              {step.verdict && (
                <p data-testid="step-verdict" className="font-mono text-xs text-emerald-300">
                  log: {step.verdict}
                </p>
              )}
              {status === 'failed' && (
                <div data-testid="step-error" className="grid gap-0.5 font-mono text-xs text-red-300">
                  <span>{step.message}</span>
                  {step.errors?.map((line, i) => <span key={i}>{line}</span>)}
                  {step.hint && <span className="font-sans text-amber-200">{step.hint}</span>}
                </div>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
