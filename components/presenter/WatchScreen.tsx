'use client';
// The audience's view: the desktop over the whole window, view only (noVNC sends nothing, and the VNC password it
// has is the view-only one, so Xvnc would ignore it anyway), under the big state banner with the freeze timer.
import { useEffect, useRef, useState } from 'react';
import { useServerEvents } from '@/lib/useServerEvents';
import type { WatchView } from '@/lib/watchView';
import { VncViewer } from '../VncViewer';
import { BigBanner } from './BigBanner';
import { FrozenPicture } from './FrozenPicture';
import { newer } from '../liveRecords';

export function WatchScreen({ initial, serverTime }: { initial: WatchView; serverTime: string }) {
  const id = initial.id;
  const [view, setView] = useState(initial);
  const [skewMs, setSkewMs] = useState(0);
  const reads = useRef(0);

  useEffect(() => setSkewMs(Date.parse(serverTime) - Date.now()), [serverTime]);

  const reread = async () => {
    const read = ++reads.current;
    const response = await fetch(`/api/desktops/${id}/watch`, { cache: 'no-store' }).catch(() => undefined);
    if (!response?.ok || read !== reads.current) return;
    const fresh = (await response.json()) as { desktop: WatchView };
    setView((v) => newer(fresh.desktop, v));
  };

  const live = useServerEvents<{ desktop: WatchView }>(`/api/desktops/${id}/watch/events`, 'watch', {
    onEvent: ({ desktop }) => setView((v) => newer(desktop, v)),
    onOpen: (time) => {
      setSkewMs(Date.parse(time) - Date.now());
      void reread();
    },
  });

  const overlay =
    view.state === 'checkpointed' ? (
      <div className="absolute inset-0 bg-sky-500/10 ring-4 ring-inset ring-sky-400/70" />
    ) : view.state === 'checkpointing' || view.state === 'restoring' ? (
      <div className="absolute inset-0 ring-4 ring-inset ring-amber-400/60" />
    ) : undefined;

  return (
    <div data-testid="watch" className="fixed inset-0 z-50 flex flex-col bg-slate-950 text-slate-100">
      <BigBanner state={view.state} frozenSince={view.frozenSince} skewMs={skewMs} lastOperation={view.lastOperation} failure={view.failure} />
      <div className="relative min-h-0 flex-1">
        {view.vncViewPassword ? (
          <VncViewer
            desktopId={id}
            vncPassword={view.vncViewPassword}
            desktopState={view.state}
            geometry={view.geometry}
            overlay={overlay}
            viewOnly
            fill
            toolbar={false}
            placeholder={view.frozenAt ? <FrozenPicture desktopId={id} checkpoint={view.frozenAt} /> : undefined}
          />
        ) : (
          <p className="grid h-full place-items-center px-6 text-center text-slate-400">
            This desktop was started before audience links existed, so it has no view-only password: start a new desktop to
            share it.
          </p>
        )}
        <span className="pointer-events-none absolute bottom-3 right-3 flex items-center gap-1.5 rounded-full bg-slate-900/80 px-3 py-1 text-xs text-slate-400 ring-1 ring-white/10">
          <span className={`size-1.5 rounded-full ${live ? 'bg-emerald-400' : 'bg-slate-600'}`} />
          {id} · view only
        </span>
      </div>
    </div>
  );
}
