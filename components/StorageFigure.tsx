// Disk used by checkpoint images and the space left where they are written, with a bar for the share used.
import { bytes } from '@/lib/format';
import type { StorageView } from '@/lib/viewTypes';

export function StorageFigure({ storage }: { storage: StorageView }) {
  const { checkpointBytes, checkpoints, freeBytes, totalBytes, stateDir } = storage;
  const share = totalBytes > 0 ? Math.min(1, checkpointBytes / totalBytes) : 0;
  return (
    <div
      data-testid="storage"
      data-used={checkpointBytes}
      data-free={freeBytes}
      title={`Images under ${stateDir}`}
      className="rounded-lg border border-white/10 bg-slate-900/60 px-3 py-2 text-xs text-slate-400"
    >
      <div className="flex items-baseline justify-between gap-2">
        <span>
          Checkpoints use <span className="font-semibold tabular-nums text-slate-100">{bytes(checkpointBytes)}</span> ({checkpoints})
        </span>
        <span>
          <span className="font-semibold tabular-nums text-slate-100">{bytes(freeBytes)}</span> free
        </span>
      </div>
      <div className="mt-1.5 h-1.5 overflow-hidden rounded-full bg-slate-800" aria-hidden>
        <div className="h-full bg-violet-400" style={{ width: `${Math.max(share * 100, checkpointBytes > 0 ? 1 : 0)}%` }} />
      </div>
      <p className="mt-1 truncate font-mono text-[10px] text-slate-500">{stateDir}</p>
    </div>
  );
}
