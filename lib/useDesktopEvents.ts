'use client';
// Subscribes a component to /api/events (Server-Sent Events): every desktop's state changes, as they happen; or one
// desktop's, relayed by this host from the host that runs it when that is another one (never another origin).
import { useEffect, useEffectEvent, useState } from 'react';
import type { DesktopEventView } from "@/lib/viewTypes";

export type LiveEvent = DesktopEventView & { at: string };

/** Where one desktop's events come from: host undefined, this host; else that host, relayed, and whether live. */
export interface RemoteLink {
  host?: string;
  live: boolean;
}

export interface EventHandlers {
  /** One desktop's events only (and, in a fleet, its owner's, relayed). */
  desktop?: string;
  onEvent: (event: LiveEvent) => void;
  /** On every (re)connection: events may have been missed meanwhile, so reread what matters. */
  onOpen?: (serverTime: string) => void;
  /** The relay from the desktop's owner connected (reread: events may have been missed) or lost (stale). */
  onRemote?: (link: RemoteLink) => void;
}

/** Returns whether the event stream is connected; EventSource reconnects by itself after a drop. */
export function useDesktopEvents({ desktop, onEvent, onOpen, onRemote }: EventHandlers): boolean {
  const [live, setLive] = useState(false);
  const handleEvent = useEffectEvent(onEvent);
  const handleOpen = useEffectEvent((serverTime: string) => onOpen?.(serverTime));
  const handleRemote = useEffectEvent((link: RemoteLink) => onRemote?.(link));

  useEffect(() => {
    const source = new EventSource(desktop ? `/api/events?desktop=${encodeURIComponent(desktop)}` : '/api/events');
    source.addEventListener('hello', (message) => {
      setLive(true);
      handleOpen(JSON.parse((message as MessageEvent<string>).data).serverTime);
    });
    source.addEventListener('desktop', (message) => handleEvent(JSON.parse((message as MessageEvent<string>).data)));
    source.addEventListener('remote', (message) => handleRemote(JSON.parse((message as MessageEvent<string>).data)));
    source.addEventListener('error', () => setLive(false));
    return () => source.close();
  }, [desktop]);

  return live;
}
