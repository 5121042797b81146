// A desktop's state as a coloured badge, the same everywhere.
import type { DesktopState } from '@/lib/states';

export const stateLook: Record<DesktopState, { label: string; className: string }> = {
  starting: { label: 'Starting', className: 'bg-amber-400/15 text-amber-200 ring-amber-400/30' },
  running: { label: 'Running', className: 'bg-emerald-400/15 text-emerald-200 ring-emerald-400/30' },
  checkpointing: { label: 'Checkpointing', className: 'bg-amber-400/15 text-amber-200 ring-amber-400/30' },
  checkpointed: { label: 'Frozen', className: 'bg-ice-400/15 text-ice-300 ring-ice-400/40' },
  restoring: { label: 'Restoring', className: 'bg-amber-400/15 text-amber-200 ring-amber-400/30' },
  stopping: { label: 'Stopping', className: 'bg-slate-500/15 text-slate-300 ring-slate-500/30' },
  stopped: { label: 'Stopped', className: 'bg-slate-500/15 text-slate-300 ring-slate-500/30' },
  failed: { label: 'Failed', className: 'bg-red-500/15 text-red-200 ring-red-500/40' },
};

export function StateBadge({ state }: { state: DesktopState }) {
  const look = stateLook[state];
  return (
    <span data-testid="state-badge" data-state={state} className={`inline-flex items-center rounded-full px-2.5 py-0.5 text-xs font-medium ring-1 ${look.className}`}>
      {look.label}
    </span>
  );
}
