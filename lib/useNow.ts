// A clock for timers on the page (the freeze timer): the time now, ticking while active.
import { useEffect, useState } from 'react';

/** Date.now() every intervalMs while active; null before mount, so server and browser render alike. */
export function useNow(active: boolean, intervalMs = 100): number | null {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
  return now;
}
