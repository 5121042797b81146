// One listener on the engine's events, fanned out to every open event stream: a crowd of viewers costs the engine
// one listener (EventEmitter warns past ten), and a stream that goes away only leaves this set.
import 'server-only';
import type { DesktopEvent } from '../desktops/events';
import { getEngine } from '../engineHandle';

type Subscriber = (event: DesktopEvent) => void;
interface Hub {
  subscribers: Set<Subscriber>;
  source?: object;
}

// On globalThis, like the engine: Next.js may load this module more than once.
const key = Symbol.for('freezeframe.eventHub');

function hub(): Hub {
  const holder = globalThis as { [key]?: Hub };
  const h = (holder[key] ??= { subscribers: new Set() });
  const { desktops } = getEngine();
  if (h.source !== desktops) {
    h.source = desktops;
    desktops.on('event', (event) => {
      for (const subscriber of h.subscribers) {
        try {
          subscriber(event);
        } catch (error) {
          // One broken stream must not keep the event from the others, nor throw into the engine.
          console.error('[events]', error);
        }
      }
    });
  }
  return h;
}

/** Calls subscriber with every desktop event until the returned function is called. */
export function subscribe(subscriber: Subscriber): () => void {
  const { subscribers } = hub();
  subscribers.add(subscriber);
  return () => subscribers.delete(subscriber);
}

export function subscriberCount(): number {
  return hub().subscribers.size;
}
