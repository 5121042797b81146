// The fleet's hosts as this host sees them: the Peers interface the fleet view, the relay and `move` code against
// (the etcd directory: view.ts; a fleet listed by its operator: staticPeers.ts), and where things are kept in etcd.
import type { Peer } from '../../lib/fleetTypes';

export type { FleetCheckpoint, FleetDesktop, FleetSnapshot, Peer } from '../../lib/fleetTypes';

export interface Peers {
  self: string;
  get(id: string): Peer | undefined;
  all(): Peer[];
  /** false while etcd is unreachable: the view is stale (the dashboard says so). */
  fresh(): boolean;
}

export const keys = {
  root: '/freezeframe/',
  hosts: '/freezeframe/hosts/',
  desktops: '/freezeframe/desktops/',
  checkpoints: '/freezeframe/checkpoints/',
};

/** The host with the most free memory among those known (ties: the first by id, so every host agrees). */
export function placeOn(peers: Peer[]): Peer | undefined {
  return [...peers].sort((a, b) => b.memAvailableBytes - a.memAvailableBytes || a.id.localeCompare(b.id))[0];
}
