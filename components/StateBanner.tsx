'use client';
// The big line over the screen: Running / Checkpointing… / Frozen for 12.4 s (ticking) / Restoring… / restored in.
import { seconds } from '@/lib/format';
import { useNow } from '@/lib/useNow';
import type { DesktopView } from './desktopTypes';

interface Props {
  desktop: DesktopView;
  /** When the tree was frozen (the dump's start), on the server's clock. */
  frozenSince?: string;
  /** Server clock minus this browser's clock. */
  skewMs: number;
}

export function StateBanner({ desktop, frozenSince, skewMs }: Props) {
  const frozen = desktop.state === 'checkpointed';
  const now = useNow(frozen);
  const op = desktop.lastOperation;
  let text: string;
  let look: string;
  switch (desktop.state) {
    case 'running':
      text = op?.kind === 'restore' && op.ok ? `Running — restored in ${seconds(op.ms)}` : 'Running';
      look = 'border-emerald-400/30 bg-emerald-400/10 text-emerald-200';
      break;
    case 'checkpointed': {
      const since = frozenSince ? Date.parse(frozenSince) : undefined;
      const frozenMs = since !== undefined && now !== null ? Math.max(0, now + skewMs - since) : undefined;
      text = frozenMs === undefined ? 'Frozen' : `Frozen for ${seconds(frozenMs, 1)}`;
      look = 'border-ice-400/40 bg-ice-500/15 text-ice-300';
      break;
    }
    case 'checkpointing':
      text = 'Checkpointing…';
      look = 'border-amber-400/30 bg-amber-400/10 text-amber-200 animate-pulse';
      break;
    case 'restoring':
      text = 'Restoring…';
      look = 'border-amber-400/30 bg-amber-400/10 text-amber-200 animate-pulse';
      break;
    case 'starting':
      text = 'Starting…';
      look = 'border-amber-400/30 bg-amber-400/10 text-amber-200';
      break;
    case 'stopping':
      text = 'Stopping…';
      look = 'border-slate-500/30 bg-slate-500/10 text-slate-300 animate-pulse';
      break;
    case 'stopped':
      text = 'Stopped';
      look = 'border-slate-500/30 bg-slate-500/10 text-slate-300';
      break;
    case 'failed':
      text = `Failed — ${desktop.lastError?.message ?? 'see the error below'}`;
      look = 'border-red-500/40 bg-red-500/10 text-red-200';
      break;
  }
  const lastDump = op?.kind === 'dump' && op.ok && op.ms !== undefined ? `dump took ${seconds(op.ms)}` : undefined;
  return (
    <div
      role="status"
      aria-live="polite"
      data-testid="state-banner"
      data-state={desktop.state}
      className={`flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1 rounded-xl border px-5 py-3 ${look}`}
    >
      <span className="text-2xl font-semibold tracking-tight tabular-nums">{text}</span>
      {frozen && lastDump && <span className="text-sm opacity-80">{lastDump}</span>}
    </div>
  );
}
