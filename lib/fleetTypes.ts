// The fleet's shapes as etcd holds them and the dashboard shows them (types only: no secret is in any of them).

/** A host of the fleet, as it publishes itself in etcd (no secret: the fleet key is never in it). */
export interface Peer {
  id: string;
  /** How the other hosts reach its server (FREEZEFRAME_PUBLIC_URL). */
  url: string;
  /** Its `freezeframe key` line: a target trusts archives a fleet member signed (the operator trusts etcd). */
  publicKey: string;
  memAvailableBytes: number;
  seenAt: string;
}

/** A desktop in the catalog: its view without secrets, and where it runs. */
export interface FleetDesktop {
  id: string;
  host: string;
  state: string;
  geometry: string;
  apps: string[];
  kind: string;
  updatedAt: string;
}

export interface FleetCheckpoint {
  id: string;
  desktop: string;
  host: string;
  createdAt: string;
  imageBytes?: number;
  state: string;
}

export interface FleetSnapshot {
  self: string;
  fresh: boolean;
  /** When etcd last answered (ISO), if ever. */
  readAt?: string;
  /** Why the last read failed, while stale. */
  error?: string;
  hosts: Peer[];
  desktops: FleetDesktop[];
  checkpoints: FleetCheckpoint[];
}

/**
 * How a move sends the desktop's memory (docs/move.md): `copy` dumps, exports and imports (stop-and-copy);
 * `page-server` sends the pages straight to the target's criu page server during the dump; `lazy` restores on the
 * target at once and fetches the memory on demand (post-copy, userfaultfd).
 */
export const moveMethods = ['copy', 'page-server', 'lazy'] as const;
export type MoveMethod = (typeof moveMethods)[number];
