'use client';
// The dashboard's desktops, kept live by the event stream, each with a link to its page and a Stop button; a stopped
// one with a Remove button (asked first), which frees its checkpoints' disk and its display and says how much.
import { useEffect, useRef, useState, useTransition, type ReactNode } from 'react';
import Link from 'next/link';
import { removeDesktopAction, stopDesktopAction } from '@/app/actions';
import { bytes } from '@/lib/format';
import { useDesktopEvents } from '@/lib/useDesktopEvents';
import type { ApiError } from '@/lib/resultTypes';
import type { DesktopSummary } from '@/lib/viewTypes';
import { desktopsChangedEvent } from './ImportCheckpointForm';
import { ConfirmDialog } from './ConfirmDialog';
import { StateBadge } from './StateBadge';
import { LocalTime } from './LocalTime';
import { ActionButton } from './ActionButton';

export function DesktopList({ initial }: { initial: DesktopSummary[] }) {
  const [desktops, setDesktops] = useState(initial);
  const [removed, setRemoved] = useState<{ desktop: string; bytesFreed: number; checkpoints: number } | null>(null);
  const reads = useRef(0);

  const reread = async () => {
    const read = ++reads.current;
    const response = await fetch('/api/desktops', { cache: 'no-store' }).catch(() => undefined);
    if (response?.ok && read === reads.current) setDesktops(((await response.json()) as { desktops: DesktopSummary[] }).desktops);
  };

  useDesktopEvents({
    onEvent: (event) => {
      if (event.type === 'removed') {
        setDesktops((list) => list.filter((d) => d.id !== event.desktop.id));
        return;
      }
      setDesktops((list) => {
        const at = list.findIndex((d) => d.id === event.desktop.id);
        if (at < 0) return [{ ...event.desktop, checkpoints: [] }, ...list];
        return list.with(at, { ...event.desktop, checkpoints: list[at].checkpoints });
      });
      void reread(); // for the checkpoints
    },
    onOpen: () => void reread(),
  });

  useEffect(() => {
    const onChanged = () => void reread();
    window.addEventListener(desktopsChangedEvent, onChanged);
    return () => window.removeEventListener(desktopsChangedEvent, onChanged);
  }, []);

  const shown = desktops.filter((d) => d.state !== 'stopped');
  const stopped = desktops.filter((d) => d.state === 'stopped');
  if (!desktops.length) {
    return (
      <p className="rounded-xl border border-dashed border-white/10 p-8 text-center text-slate-400">
        No desktops yet. Start one with the form.
      </p>
    );
  }
  const onRemoved = (result: { desktop: string; bytesFreed: number; checkpoints: string[] }) => {
    setRemoved({ desktop: result.desktop, bytesFreed: result.bytesFreed, checkpoints: result.checkpoints.length });
    setDesktops((list) => list.filter((d) => d.id !== result.desktop));
  };
  return (
    <div className="grid gap-6">
      {removed && (
        <p role="status" data-testid="desktop-removed" data-bytes={removed.bytesFreed} className="rounded-md border border-emerald-400/30 bg-emerald-400/10 px-3 py-1.5 text-sm text-emerald-200">
          Removed {removed.desktop} and its {removed.checkpoints} checkpoint{removed.checkpoints === 1 ? '' : 's'}: {bytes(removed.bytesFreed)} freed
        </p>
      )}
      <DesktopTable desktops={shown} empty="No desktop is running." />
      {stopped.length > 0 && (
        <details className="text-sm" data-testid="stopped-desktops">
          <summary className="cursor-pointer text-slate-400">Stopped desktops ({stopped.length}); their checkpoints can still be restored</summary>
          <div className="mt-3">
            <DesktopTable desktops={stopped} empty="" onRemoved={onRemoved} />
          </div>
        </details>
      )}
    </div>
  );
}

type OnRemoved = (result: { desktop: string; bytesFreed: number; checkpoints: string[] }) => void;

function DesktopTable({ desktops, empty, onRemoved }: { desktops: DesktopSummary[]; empty: string; onRemoved?: OnRemoved }) {
  if (!desktops.length) return <p className="text-sm text-slate-400">{empty}</p>;
  return (
    <div className="overflow-x-auto rounded-xl border border-white/10 bg-slate-900/40">
      <table data-testid="desktops" className="w-full text-left text-sm">
        <thead className="border-b border-white/10 text-xs uppercase tracking-wider text-slate-500">
          <tr>
            <th className="px-4 py-2.5 font-medium">Desktop</th>
            <th className="px-4 py-2.5 font-medium">State</th>
            <th className="px-4 py-2.5 font-medium">Display</th>
            <th className="px-4 py-2.5 font-medium">Apps</th>
            <th className="px-4 py-2.5 text-right font-medium">Checkpoints</th>
            <th className="px-4 py-2.5 font-medium">Started</th>
            <th className="px-4 py-2.5" />
          </tr>
        </thead>
        <tbody className="divide-y divide-white/5">
          {desktops.map((d) => (
            <tr key={d.id} data-desktop={d.id} className="hover:bg-white/[0.02]">
              <td className="px-4 py-3 font-mono">
                <Link href={`/desktops/${d.id}`} className="text-sky-300 hover:underline">
                  {d.id}
                </Link>
              </td>
              <td className="px-4 py-3">
                <StateBadge state={d.state} />
              </td>
              <td className="px-4 py-3 tabular-nums text-slate-300">
                :{d.display} <span className="text-slate-500">{d.geometry}</span>
              </td>
              <td className="px-4 py-3 text-slate-300">{d.apps.join(', ')}</td>
              <td className="px-4 py-3 text-right tabular-nums text-slate-300">{d.checkpoints.length}</td>
              <td className="px-4 py-3 tabular-nums text-slate-400"><LocalTime iso={d.createdAt} kind="clock" /></td>
              <td className="px-4 py-3 text-right">
                <div className="flex items-center justify-end gap-2">
                  <Link href={`/desktops/${d.id}`} className="rounded-md bg-sky-500/15 px-3 py-1 text-sky-200 ring-1 ring-sky-400/30 hover:bg-sky-500/25">
                    Open
                  </Link>
                  {d.state !== 'stopped' && <StopButton id={d.id} />}
                  {d.state === 'stopped' && onRemoved && <RemoveButton desktop={d} onRemoved={onRemoved} />}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const rowButton =
  'rounded-md border border-white/10 px-3 py-1 text-slate-300 hover:border-red-400/50 hover:text-red-200 disabled:opacity-40';

/** A row's action: its button (and what follows it, a dialog) after the last failure's message, if any. */
function RowAction({ error, children }: { error: ApiError | null; children: ReactNode }) {
  return (
    <span className="flex items-center gap-2">
      {error && (
        <span role="alert" className="max-w-56 truncate text-xs text-red-300" title={error.message}>
          {error.message}
        </span>
      )}
      {children}
    </span>
  );
}

function StopButton({ id }: { id: string }) {
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<ApiError | null>(null);
  const stop = () =>
    startTransition(async () => {
      const result = await stopDesktopAction(id);
      setError(result.ok ? null : result.error);
    });
  return (
    <RowAction error={error}>
      <ActionButton type="button" onClick={stop} disabled={pending} className={rowButton}>
        {pending ? 'Stopping…' : 'Stop'}
      </ActionButton>
    </RowAction>
  );
}

function RemoveButton({ desktop, onRemoved }: { desktop: DesktopSummary; onRemoved: OnRemoved }) {
  const [asking, setAsking] = useState(false);
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<ApiError | null>(null);
  const diskBytes = desktop.checkpoints.reduce((sum, c) => sum + (c.storedBytes ?? c.imageBytes ?? 0), 0);
  const remove = () =>
    startTransition(async () => {
      const result = await removeDesktopAction(desktop.id);
      if (result.ok) onRemoved(result);
      else setError(result.error);
    });
  return (
    <RowAction error={error}>
      <ActionButton type="button" onClick={() => setAsking(true)} disabled={pending} aria-label={`Remove ${desktop.id}`} className={rowButton}>
        {pending ? 'Removing…' : 'Remove…'}
      </ActionButton>
      <ConfirmDialog
        open={asking}
        title={`Remove ${desktop.id} and its checkpoints?`}
        confirmLabel="Remove"
        onCancel={() => setAsking(false)}
        onConfirm={() => {
          setAsking(false);
          remove();
        }}
      >
        Its {desktop.checkpoints.length} checkpoint{desktop.checkpoints.length === 1 ? '' : 's'} (about {bytes(diskBytes)}), its home
        folder and its display :{desktop.display} go for good: none of it can be restored afterwards.
      </ConfirmDialog>
    </RowAction>
  );
}
