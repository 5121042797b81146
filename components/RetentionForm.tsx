'use client';
// A desktop's retention policy, shown and set: keep the last N checkpoints and/or at most so many MiB (pinned ones
// and the one a frozen desktop needs always stay); applied at once and after each checkpoint, the auto-cycle's too.
import { useState } from 'react';
import { setRetentionAction } from '@/app/actions';
import { bytes } from '@/lib/format';
import type { ApiError } from '@/lib/resultTypes';
import { describePolicy, retentionLimits, type RetentionPolicy } from '@/lib/retention';
import { ErrorPanel } from './ErrorPanel';

const mib = 1024 ** 2;

export function RetentionForm({ desktopId, policy, disabled }: { desktopId: string; policy?: RetentionPolicy; disabled?: boolean }) {
  const [keepLast, setKeepLast] = useState(policy?.keepLast?.toString() ?? '');
  const [maxMiB, setMaxMiB] = useState(policy?.maxBytes ? String(Math.round(policy.maxBytes / mib)) : '');
  const [pending, setPending] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: true; removed: string[]; bytesFreed: number } | { ok: false; error: ApiError } | null>(null);

  async function save(event: React.FormEvent) {
    event.preventDefault();
    setPending(true);
    setOutcome(null);
    try {
      const result = await setRetentionAction(desktopId, {
        keepLast: keepLast.trim() ? Number(keepLast) : null,
        maxBytes: maxMiB.trim() ? Math.round(Number(maxMiB) * mib) : null,
      });
      setOutcome(result.ok ? { ok: true, removed: result.removed, bytesFreed: result.bytesFreed } : { ok: false, error: result.error });
    } catch (error) {
      setOutcome({ ok: false, error: { code: 'unreachable', message: (error as Error).message } });
    } finally {
      setPending(false);
    }
  }

  return (
    <form onSubmit={save} data-testid="retention" className="grid gap-2 rounded-lg border border-white/10 bg-slate-900/60 px-3 py-2 text-xs text-slate-400">
      <p>
        Retention: <span data-testid="retention-policy" className="text-slate-200">{describePolicy(policy, bytes)}</span>
      </p>
      <div className="flex flex-wrap items-end gap-2">
        <label className="grid gap-0.5">
          Keep the last
          <input
            type="number" min={retentionLimits.keepLast.min} max={retentionLimits.keepLast.max} inputMode="numeric" placeholder="all"
            value={keepLast} onChange={(e) => setKeepLast(e.target.value)} aria-label="Keep the last N checkpoints"
            className="w-20 rounded-md border border-white/10 bg-slate-950 px-2 py-1 text-slate-100"
          />
        </label>
        <label className="grid gap-0.5">
          At most MiB
          <input
            type="number" min={1} inputMode="numeric" placeholder="no limit"
            value={maxMiB} onChange={(e) => setMaxMiB(e.target.value)} aria-label="At most MiB of checkpoints"
            className="w-24 rounded-md border border-white/10 bg-slate-950 px-2 py-1 text-slate-100"
          />
        </label>
        <button
          type="submit" disabled={pending || disabled}
          className="rounded-md bg-slate-700 px-3 py-1 font-semibold text-slate-100 hover:bg-slate-600 disabled:opacity-40"
        >
          {pending ? 'Applying…' : 'Apply'}
        </button>
      </div>
      {outcome?.ok && (
        <p role="status" data-testid="retention-outcome" data-bytes={outcome.bytesFreed} className="text-emerald-200">
          {outcome.removed.length ? `Removed ${outcome.removed.length} checkpoint${outcome.removed.length === 1 ? '' : 's'}: ${bytes(outcome.bytesFreed)} freed` : 'Nothing to remove'}
        </p>
      )}
      {outcome && !outcome.ok && <ErrorPanel title="Setting the retention policy failed" error={outcome.error} />}
    </form>
  );
}
