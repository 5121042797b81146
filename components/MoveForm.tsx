'use client';
// "Move to host...": the running desktop goes to another host of the fleet (a server action); the viewer shows the
// freeze picture meanwhile and reconnects by itself. Hosts come from the fleet's directory (server/fleet/peers.ts);
// the memory goes by the method picked (docs/move.md: stop-and-copy by default).
import { useState } from 'react';
import { moveDesktopAction } from '@/app/actions';
import type { ApiError } from '@/lib/resultTypes';
import { moveMethods, type MoveMethod } from '@/lib/fleetTypes';
import { ActionButton } from './ActionButton';

/** Each method as the page names it, with what it does. */
const methodLabels: Record<MoveMethod, { label: string; title: string }> = {
  copy: { label: 'copy', title: 'Stop and copy: dump, send the checkpoint, restore there' },
  'page-server': { label: 'page server', title: "The memory goes straight to the target's criu page server during the dump" },
  lazy: { label: 'lazy (post-copy)', title: 'Restored on the target at once; its memory is fetched from here on demand' },
};

export interface MoveTarget {
  id: string;
  /** The desktop's page on that host: where to open it when no host relays its screen. */
  url: string;
  /** The host that serves this page. */
  self?: true;
}

/** current: the host that runs the desktop (default: this page's host). */
export function MoveForm({ desktopId, hosts: all, current, running, movedTo }: { desktopId: string; hosts: MoveTarget[]; current?: string; running: boolean; movedTo?: { host: string } }) {
  const here = current ?? all.find((h) => h.self)?.id;
  const hosts = all.filter((h) => h.id !== here);
  const [picked, setHost] = useState(hosts[0]?.id ?? '');
  // After a move the desktop runs on the host that was picked: the choice falls back to one it can go to.
  const host = hosts.some((h) => h.id === picked) ? picked : (hosts[0]?.id ?? '');
  const [method, setMethod] = useState<MoveMethod>('copy');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<{ host: string; frozenMs: number; method: MoveMethod } | null>(null);
  if (!hosts.length) return null;
  const there = movedTo ?? (done ? { host: done.host } : undefined);
  const link = there && all.find((h) => h.id === there.host);

  async function move() {
    setPending(true);
    setError(null);
    try {
      const result = await moveDesktopAction(desktopId, host, method);
      if (result.ok) setDone({ host: result.host, frozenMs: result.frozenMs, method: result.method });
      else setError(result.error);
    } catch (e) {
      setError({ code: 'unreachable', message: (e as Error).message });
    } finally {
      setPending(false);
    }
  }

  return (
    <div className="grid gap-2 rounded-lg border border-white/10 p-3 text-sm text-slate-300" data-testid="move-form">
      <label className="flex items-center gap-2">
        <span>Move to host…</span>
        <select value={host} onChange={(e) => setHost(e.target.value)} disabled={pending || !running} className="rounded border border-white/10 bg-slate-900 px-2 py-1" data-testid="move-host">
          {hosts.map((h) => (
            <option key={h.id} value={h.id}>{h.id}</option>
          ))}
        </select>
        <span>by</span>
        <select value={method} onChange={(e) => setMethod(e.target.value as MoveMethod)} disabled={pending || !running} title={methodLabels[method].title} aria-label="Move method" className="rounded border border-white/10 bg-slate-900 px-2 py-1" data-testid="move-method">
          {moveMethods.map((m) => (
            <option key={m} value={m} title={methodLabels[m].title}>{methodLabels[m].label}</option>
          ))}
        </select>
        <ActionButton type="button" onClick={() => void move()} disabled={pending || !running || !host} data-testid="move-button" className="rounded-md border border-white/10 px-3 py-1 hover:border-sky-400/50 hover:text-sky-200 disabled:opacity-40">
          {pending ? 'Moving…' : 'Move'}
        </ActionButton>
      </label>
      {done && <p data-testid="move-done">Moved to {done.host} ({methodLabels[done.method].label}): frozen for {(done.frozenMs / 1000).toFixed(1)} s.</p>}
      {there && link && (
        <p>
          It runs on {there.host}: <a className="text-sky-300 underline" href={`${link.url}/desktops/${desktopId}`}>open it there</a>.
        </p>
      )}
      {error && <p className="text-red-300" role="alert" data-testid="move-error">Move failed: {error.message}</p>}
    </div>
  );
}
