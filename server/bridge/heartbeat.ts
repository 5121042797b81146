// One timer pings every viewer: a browser that vanished without a close (sleep, network gone) is noticed and cut.
import 'server-only';

export interface Beating {
  /** Terminates the viewer if it missed the previous ping's pong, otherwise pings it again. */
  beat(): void;
}

export function startHeartbeat(viewers: () => Iterable<Beating>, intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const viewer of viewers()) viewer.beat();
  }, intervalMs);
  // Never what keeps the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
