'use client';
// Subscribes a component to /api/events (Server-Sent Events): every desktop's state changes, as they happen.
import { useEffect, useEffectEvent, useState } from 'react';
import type { DesktopEventView } from "@/lib/viewTypes";

export type LiveEvent = DesktopEventView & { at: string };

export interface EventHandlers {
  onEvent: (event: LiveEvent) => void;
  /** On every (re)connection: events may have been missed meanwhile, so reread what matters. */
  onOpen?: (serverTime: string) => void;
}

/** Returns whether the event stream is connected; EventSource reconnects by itself after a drop. */
export function useDesktopEvents({ onEvent, onOpen }: EventHandlers): boolean {
  const [live, setLive] = useState(false);
  const handleEvent = useEffectEvent(onEvent);
  const handleOpen = useEffectEvent((serverTime: string) => onOpen?.(serverTime));

  useEffect(() => {
    const source = new EventSource('/api/events');
    source.addEventListener('hello', (message) => {
      setLive(true);
      handleOpen(JSON.parse((message as MessageEvent<string>).data).serverTime);
    });
    source.addEventListener('desktop', (message) => handleEvent(JSON.parse((message as MessageEvent<string>).data)));
    source.addEventListener('error', () => setLive(false));
    return () => source.close();
  }, []);

  return live;
}
