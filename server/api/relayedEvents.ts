// This host's relay of other hosts' event streams for its pages (server/fleet/remoteEvents.ts): one for the server,
// on globalThis like the engine (Next.js may load this module more than once). Without a fleet it relays nothing.
import 'server-only';
import { getEngine } from '../engineHandle';
import { remoteFeeds, type FeedWatcher, type RemoteFeeds } from '../fleet/remoteEvents';
import { fromFleet } from './fleetOperations';

const key = Symbol.for('freezeframe.remoteFeeds');
type Holder = { [key]?: RemoteFeeds };

/**
 * Relays `path` (an event stream of the desktop's owner) to watcher while the desktop runs on another host. A
 * request that itself comes from a host of the fleet gets none: a host's relay reads only the owner's own events,
 * so two hosts that disagree on the owner (a catalog a second behind) never relay each other in a loop.
 */
export function watchRemote(request: Request, desktopId: string, path: string, watcher: FeedWatcher): () => void {
  const { fleet } = getEngine();
  if (!fleet || fromFleet(request.headers.get('authorization'))) return () => {};
  const holder = globalThis as Holder;
  holder[key] ??= remoteFeeds({ ownerOf: (id) => fleet.ownerOf(id), call: (peer, p, init) => fleet.call(peer, p, init) });
  return holder[key].watch(desktopId, path, watcher);
}

/** The owners' streams this host has open for its pages now (GET /api/fleet says it: a page gone closes its own). */
export function relayedStreams(): number {
  return (globalThis as Holder)[key]?.open() ?? 0;
}
