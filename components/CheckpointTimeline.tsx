'use client';
// A desktop's checkpoints as a timeline, newest first: each with its screen, figures, CRIU's stats and its actions.
import { useState } from 'react';
import Link from 'next/link';
import { bytes, millis, seconds, when } from '@/lib/format';
import type { CheckpointView } from './desktopTypes';
import { LocalTime } from './LocalTime';
import { ActionButton } from './ActionButton';

interface Props {
  checkpoints: CheckpointView[];
  /** The checkpoint the desktop last froze at or came back from. */
  current?: string;
  onRestore: (id: string) => void;
  /** A new desktop from the checkpoint (a clone). */
  onClone?: (id: string) => void;
  /** Deletes a checkpoint's images (asked twice: they cannot come back). */
  onDelete: (id: string) => void;
  /** Pins or unpins it: the retention policy never removes a pinned checkpoint. */
  onPin: (id: string, pinned: boolean) => void;
  /** The desktop cannot be restored now (busy, starting). */
  restoreDisabled?: boolean;
  /** An operation is under way: no other may start. */
  disabled?: boolean;
}

export function CheckpointTimeline({ checkpoints, current, onRestore, onClone, onDelete, onPin, restoreDisabled, disabled }: Props) {
  if (!checkpoints.length) {
    return <p className="text-sm text-slate-400">No checkpoints yet: press Checkpoint or Snapshot to take one.</p>;
  }
  return (
    <ol data-testid="checkpoints" className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3 2xl:grid-cols-4">
      {[...checkpoints].reverse().map((c) => (
        <CheckpointCard
          key={c.id}
          checkpoint={c}
          current={c.id === current}
          onRestore={onRestore}
          onClone={onClone}
          onDelete={onDelete}
          onPin={onPin}
          restoreDisabled={restoreDisabled || disabled}
          disabled={disabled}
        />
      ))}
    </ol>
  );
}

interface CardProps {
  checkpoint: CheckpointView;
  current: boolean;
  onRestore: (id: string) => void;
  /** A new desktop from the checkpoint (a clone). */
  onClone?: (id: string) => void;
  onDelete: (id: string) => void;
  onPin: (id: string, pinned: boolean) => void;
  restoreDisabled?: boolean;
  disabled?: boolean;
}

function CheckpointCard({ checkpoint: c, current, onRestore, onClone, onDelete, onPin, restoreDisabled, disabled }: CardProps) {
  const [confirming, setConfirming] = useState(false);
  const complete = c.state === 'complete';
  const mode = c.leaveRunning ? 'snapshot' : 'checkpoint';
  const restores = c.restores.filter((r) => r.ok);
  const lastRestore = c.restores.at(-1);
  return (
    <li
      data-testid="checkpoint-card"
      data-checkpoint={c.id}
      data-mode={mode}
      data-state={c.state}
      data-pinned={c.pinned ? 'true' : 'false'}
      className={`flex flex-col overflow-hidden rounded-xl border bg-slate-900/60 ${current ? 'border-ice-400/60' : 'border-white/10'}`}
    >
      <div className="relative aspect-[4/3] bg-black/60">
        {c.thumbnail ? (
          // A plain img: a 320 px PNG of our own, nothing for next/image to optimise.
          <img src={`/api/checkpoints/${c.id}/thumbnail`} alt={`The screen at ${when(c.createdAt, 'UTC')}`} className="size-full object-contain" />
        ) : (
          <span className="absolute inset-0 grid place-items-center text-xs text-slate-500">no picture</span>
        )}
        <span
          className={`absolute left-2 top-2 rounded-full px-2 py-0.5 text-[11px] font-semibold ring-1 ${
            c.leaveRunning ? 'bg-violet-500/80 text-white ring-violet-300/40' : 'bg-sky-500/80 text-slate-950 ring-sky-200/40'
          }`}
        >
          {c.leaveRunning ? 'Snapshot' : 'Checkpoint'}
        </span>
        <span className="absolute right-2 top-2 flex gap-1">
          {c.pinned && <span className="rounded-full bg-amber-400/90 px-2 py-0.5 text-[11px] font-semibold text-slate-950">pinned</span>}
          {current && <span className="rounded-full bg-slate-950/80 px-2 py-0.5 text-[11px] text-ice-300">current</span>}
        </span>
      </div>

      <div className="grid gap-2 p-3 text-sm">
        <div className="flex items-baseline justify-between gap-2">
          <span className="text-slate-200"><LocalTime iso={c.createdAt} /></span>
          <span className="font-mono text-xs text-slate-500">{c.id}</span>
        </div>
        {c.importedAt && <span className="text-xs text-amber-200">imported <LocalTime iso={c.importedAt} /></span>}
        {!complete && <span className="text-xs text-red-300">{c.state}{c.error ? `: ${c.error.message}` : ''}</span>}
        <dl className="grid grid-cols-3 gap-1 text-center text-xs">
          <Figure label="Dump" value={seconds(c.dumpMs)} />
          <Figure label="Images" value={bytes(c.imageBytes)} title={c.storedBytes !== undefined ? `${bytes(c.storedBytes)} on disk${c.base ? `: its other pages are shared with ${c.base}` : ''}` : undefined} />
          <Figure label="Restores" value={String(restores.length)} testId="restore-count" />
        </dl>
        {c.storedBytes !== undefined && c.base && (
          <p data-testid="stored-bytes" className="text-xs text-slate-400">
            {bytes(c.storedBytes)} on disk, the rest shared with <span className="font-mono">{c.base}</span>
          </p>
        )}
        {lastRestore && (
          <p className="text-xs text-slate-400">
            Last restore <LocalTime iso={lastRestore.at} />{' '}
            {lastRestore.ok ? <span className="tabular-nums">in {seconds(lastRestore.ms)}</span> : <span className="text-red-300">failed</span>}
          </p>
        )}
        <CriuStats checkpoint={c} />

        <div className="mt-1 flex flex-wrap items-center gap-1.5 text-xs">
          <ActionButton
            type="button"
            onClick={() => onRestore(c.id)}
            disabled={!complete || restoreDisabled}
            aria-label={`Restore ${c.id}`}
            className="rounded-md bg-emerald-500/90 px-2.5 py-1 font-semibold text-slate-950 hover:bg-emerald-400 disabled:bg-slate-800 disabled:text-slate-500"
          >
            Restore
          </ActionButton>
          {complete && (
            <>
              {onClone && (
                <ActionButton
                  type="button"
                  onClick={() => onClone(c.id)}
                  disabled={disabled}
                  aria-label={`Clone ${c.id}`}
                  title="A new desktop restored from this checkpoint: its own viewer and checkpoints"
                  className="rounded-md border border-white/10 px-2.5 py-1 text-slate-200 hover:bg-slate-800 disabled:opacity-40"
                >
                  Clone
                </ActionButton>
              )}
              <Link href={`/checkpoints/${c.id}`} aria-label={`Inspect ${c.id}`} className="rounded-md border border-white/10 px-2.5 py-1 text-slate-200 hover:bg-slate-800">
                Inspect
              </Link>
              <ActionButton
                type="button"
                onClick={() => onPin(c.id, !c.pinned)}
                disabled={disabled}
                aria-label={`${c.pinned ? 'Unpin' : 'Pin'} ${c.id}`}
                aria-pressed={!!c.pinned}
                title={c.pinned ? 'Let the retention policy remove it again' : 'Never let the retention policy remove it'}
                className="rounded-md border border-white/10 px-2.5 py-1 text-slate-200 hover:bg-slate-800 disabled:opacity-40"
              >
                {c.pinned ? 'Unpin' : 'Pin'}
              </ActionButton>
              <a
                href={`/api/checkpoints/${c.id}/export`}
                download={`${c.id}.tar.zst`}
                aria-label={`Export ${c.id}`}
                title="Download this checkpoint as one .tar.zst archive"
                className="rounded-md border border-white/10 px-2.5 py-1 text-slate-200 hover:bg-slate-800"
              >
                Export
              </a>
            </>
          )}
          <span className="ml-auto">
            {confirming ? (
              <span className="inline-flex gap-1">
                <ActionButton
                  type="button"
                  onClick={() => {
                    setConfirming(false);
                    onDelete(c.id);
                  }}
                  disabled={disabled}
                  className="rounded bg-red-500/80 px-2 py-1 font-semibold text-white hover:bg-red-500"
                >
                  Delete
                </ActionButton>
                <ActionButton type="button" onClick={() => setConfirming(false)} className="rounded px-2 py-1 text-slate-400 hover:text-slate-200">
                  Keep
                </ActionButton>
              </span>
            ) : (
              <ActionButton
                type="button"
                onClick={() => setConfirming(true)}
                disabled={disabled}
                aria-label={`Delete ${c.id}`}
                title="Delete this checkpoint and its images"
                className="rounded px-2 py-1 text-slate-500 hover:text-red-300 disabled:opacity-40"
              >
                Delete…
              </ActionButton>
            )}
          </span>
        </div>
      </div>
    </li>
  );
}

/** CRIU's own figures (stats-dump, stats-restore), folded away: they matter to the curious, not to every glance. */
function CriuStats({ checkpoint: c }: { checkpoint: CheckpointView }) {
  const d = c.dumpStats;
  const r = c.restores.findLast((x) => x.ok && x.stats)?.stats;
  if (!d && !r) return null;
  return (
    <details data-testid="criu-stats" className="text-xs text-slate-400">
      <summary className="cursor-pointer select-none hover:text-slate-200">CRIU&apos;s stats</summary>
      <table className="mt-1.5 w-full tabular-nums">
        <tbody>
          {d && (
            <>
              <Row label="freezing" value={millis(d.freezingMs)} />
              <Row label="frozen" value={millis(d.frozenMs)} />
              <Row label="memdump" value={millis(d.memdumpMs)} />
              <Row label="memwrite" value={millis(d.memwriteMs)} />
              <Row label="pages written" value={`${d.pagesWritten} of ${d.pagesScanned} scanned`} />
            </>
          )}
          {r && (
            <>
              <Row label="restore: forking" value={millis(r.forkingMs)} />
              <Row label="restore: restore" value={millis(r.restoreMs)} />
              {r.pagesRestored !== undefined && <Row label="pages restored" value={String(r.pagesRestored)} />}
            </>
          )}
        </tbody>
      </table>
    </details>
  );
}

function Row({ label, value }: { label: string; value: string }) {
  return (
    <tr>
      <td className="py-0.5 pr-2 text-slate-500">{label}</td>
      <td className="py-0.5 text-right text-slate-300">{value}</td>
    </tr>
  );
}

function Figure({ label, value, testId, title }: { label: string; value: string; testId?: string; title?: string }) {
  return (
    <div data-testid={testId} title={title} className="rounded-md bg-slate-950/60 px-1 py-1">
      <dt className="text-[10px] uppercase tracking-wider text-slate-500">{label}</dt>
      <dd className="font-semibold tabular-nums text-slate-100">{value}</dd>
    </div>
  );
}
