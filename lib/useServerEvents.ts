'use client';
// Subscribes a component to one kind of event of a Server-Sent Events stream; reconnects as EventSource does.
import { useEffect, useEffectEvent, useState } from 'react';

export interface ServerEventHandlers<T> {
  onEvent: (data: T) => void;
  /** On every (re)connection, with the server's clock: events may have been missed meanwhile. */
  onOpen?: (serverTime: string) => void;
}

/** Whether the stream is connected. */
export function useServerEvents<T>(url: string, eventName: string, { onEvent, onOpen }: ServerEventHandlers<T>): boolean {
  const [live, setLive] = useState(false);
  const handleEvent = useEffectEvent(onEvent);
  const handleOpen = useEffectEvent((serverTime: string) => onOpen?.(serverTime));

  useEffect(() => {
    const source = new EventSource(url);
    source.addEventListener('hello', (message) => {
      setLive(true);
      handleOpen(JSON.parse((message as MessageEvent<string>).data).serverTime);
    });
    source.addEventListener(eventName, (message) => handleEvent(JSON.parse((message as MessageEvent<string>).data)));
    source.addEventListener('error', () => setLive(false));
    return () => source.close();
  }, [url, eventName]);

  return live;
}
