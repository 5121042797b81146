// The fleet as this host last read it from etcd: hosts (the Peers), desktops and checkpoints. A poll, not a watch:
// one range over /freezeframe/ a second (a few hosts and their desktops: a few KB), and its success is what says
// the view is fresh. A watch would need the same range to start from and a timer to notice a silent etcd anyway.
import type { EtcdClient } from './etcd';
import { keys, type FleetCheckpoint, type FleetDesktop, type FleetSnapshot, type Peer, type Peers } from './peers';

export type { FleetSnapshot } from './peers';

export const pollMs = 1_000;
/** No successful read for this long: the view is stale (a read times out after 1.5 s; one slow read is no outage). */
export const staleAfterMs = 3_000;

export interface FleetView extends Peers {
  snapshot(): FleetSnapshot;
  /** Reads etcd now (the poll does it every second). */
  refresh(): Promise<void>;
  desktop(id: string): FleetDesktop | undefined;
}

function parse<T>(value: string): T | undefined {
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

export function fleetView(etcd: EtcdClient, self: string, now = () => Date.now()): FleetView {
  let hosts: Peer[] = [];
  let desktops: FleetDesktop[] = [];
  let checkpoints: FleetCheckpoint[] = [];
  let readAt: number | undefined;
  let error: string | undefined;
  // Not the last read's error alone: on a loaded machine one read can miss its 1.5 s, and the banner would flicker.
  const fresh = () => readAt !== undefined && now() - readAt < staleAfterMs;
  return {
    self,
    get: (id) => hosts.find((h) => h.id === id),
    all: () => [...hosts],
    fresh,
    desktop: (id) => desktops.find((d) => d.id === id),
    async refresh() {
      try {
        const all = await etcd.list(keys.root);
        const under = <T>(prefix: string) => all.filter((kv) => kv.key.startsWith(prefix)).map((kv) => parse<T>(kv.value)).filter((v): v is T => v !== undefined);
        hosts = under<Peer>(keys.hosts).sort((a, b) => a.id.localeCompare(b.id));
        desktops = under<FleetDesktop>(keys.desktops).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
        checkpoints = under<FleetCheckpoint>(keys.checkpoints).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
        readAt = now();
        error = undefined;
      } catch (e) {
        error = (e as Error).message;
      }
    },
    snapshot: () => ({
      self,
      fresh: fresh(),
      readAt: readAt === undefined ? undefined : new Date(readAt).toISOString(),
      ...(error ? { error } : {}),
      hosts,
      desktops,
      checkpoints,
    }),
  };
}
