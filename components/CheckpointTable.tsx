'use client';
// A desktop's checkpoints, newest first, one of which is chosen for the next restore (the newest by default).
import { useState } from 'react';
import { bytes, clock, seconds } from '@/app/lib/format';
import type { CheckpointRecord } from './desktopTypes';

interface Props {
  checkpoints: CheckpointRecord[];
  /** The checkpoint Restore will use. */
  chosen?: string;
  onChoose: (id: string) => void;
  /** Deletes a checkpoint's images (asked twice: they cannot come back). */
  onDelete: (id: string) => void;
  disabled?: boolean;
}

export function CheckpointTable({ checkpoints, chosen, onChoose, onDelete, disabled }: Props) {
  const [confirming, setConfirming] = useState<string | null>(null);
  if (!checkpoints.length) {
    return <p className="text-sm text-slate-400">No checkpoints yet: press Checkpoint to take one.</p>;
  }
  const newestFirst = [...checkpoints].reverse();
  return (
    <div className="overflow-x-auto">
      <table data-testid="checkpoints" className="w-full whitespace-nowrap text-left text-sm">
        <thead className="text-xs uppercase tracking-wider text-slate-500">
          <tr>
            <th className="py-1.5 pr-2 font-medium" aria-label="Restore this one" />
            <th className="py-1.5 pr-2 font-medium">Checkpoint</th>
            <th className="py-1.5 pr-2 font-medium">Taken</th>
            <th className="py-1.5 pr-2 text-right font-medium">Dump</th>
            <th className="py-1.5 pr-2 text-right font-medium">Images</th>
            <th className="py-1.5 text-right font-medium">Restores</th>
            <th className="py-1.5 pl-2" aria-label="Delete" />
          </tr>
        </thead>
        <tbody className="divide-y divide-white/5">
          {newestFirst.map((c) => {
            const restorable = c.state === 'complete';
            const lastRestore = c.restores.at(-1);
            return (
              <tr key={c.id} data-checkpoint={c.id} className={c.id === chosen ? 'bg-ice-500/10' : undefined}>
                <td className="py-1.5 pr-2">
                  <input
                    type="radio"
                    name="checkpoint"
                    aria-label={`Restore ${c.id}`}
                    checked={c.id === chosen}
                    disabled={!restorable || disabled}
                    onChange={() => onChoose(c.id)}
                    className="accent-sky-400"
                  />
                </td>
                <td className="py-1.5 pr-2 font-mono text-xs">
                  <a href={`/api/checkpoints/${c.id}`} className="text-slate-200 underline-offset-2 hover:underline" title="This checkpoint as JSON, with its logs">
                    {c.id}
                  </a>
                  {c.state !== 'complete' && <span className="ml-2 text-red-300">{c.state}</span>}
                  {c.leaveRunning && <span className="ml-2 text-slate-500">snapshot</span>}
                </td>
                <td className="py-1.5 pr-2 text-slate-300">{clock(c.createdAt)}</td>
                <td className="py-1.5 pr-2 text-right tabular-nums text-slate-300">{seconds(c.dumpMs)}</td>
                <td className="py-1.5 pr-2 text-right tabular-nums text-slate-300">{bytes(c.imageBytes)}</td>
                <td className="py-1.5 text-right tabular-nums text-slate-300">
                  {c.restores.length}
                  {lastRestore && (
                    <span className={`ml-1 ${lastRestore.ok ? 'text-slate-500' : 'text-red-300'}`}>
                      ({lastRestore.ok ? seconds(lastRestore.ms) : 'failed'})
                    </span>
                  )}
                </td>
                <td className="py-1.5 pl-2 text-right">
                  {confirming === c.id ? (
                    <span className="inline-flex gap-1 text-xs">
                      <button type="button" onClick={() => { setConfirming(null); onDelete(c.id); }} disabled={disabled} className="rounded bg-red-500/80 px-1.5 py-0.5 font-semibold text-white hover:bg-red-500">
                        Delete
                      </button>
                      <button type="button" onClick={() => setConfirming(null)} className="rounded px-1.5 py-0.5 text-slate-400 hover:text-slate-200">
                        Keep
                      </button>
                    </span>
                  ) : (
                    <button
                      type="button"
                      onClick={() => setConfirming(c.id)}
                      disabled={disabled}
                      aria-label={`Delete ${c.id}`}
                      title="Delete this checkpoint and its images"
                      className="rounded px-1.5 text-slate-500 hover:text-red-300 disabled:opacity-40"
                    >
                      ✕
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
