// The fleet's hosts as this server sees them (issue #14): the contract of /work/notes/fleet.md. The `fleet` branch
// provides the etcd-backed directory; staticPeers.ts is the one without etcd (a fleet listed by its operator).

export interface Peer {
  id: string;
  url: string;
  /** The `freezeframe key` line: archives a fleet member signed are trusted by it (the operator trusts the fleet). */
  publicKey: string;
  memAvailableBytes: number;
  seenAt: string;
}

export interface Peers {
  self: string;
  get(id: string): Peer | undefined;
  all(): Peer[];
  /** false while etcd is unreachable: the view is stale (the dashboard says so). */
  fresh(): boolean;
}
