// The Peers this server uses, shared with the Next.js side like the engine (engineHandle.ts): the static
// directory from the environment unless the fleet's etcd directory was set at start.
import 'server-only';
import type { Peers } from './peers';
import { peersFromEnv } from './staticPeers';

const key = Symbol.for('freezeframe.peers');
type Holder = { [key]?: Peers };

export function setPeers(peers: Peers): void {
  (globalThis as Holder)[key] = peers;
}

export function getPeers(): Peers {
  const holder = globalThis as Holder;
  return (holder[key] ??= peersFromEnv());
}
