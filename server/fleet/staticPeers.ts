// The static peers directory: a fleet listed by its operator (FREEZEFRAME_PEERS, JSON, or FREEZEFRAME_PEERS_FILE,
// read again at each look-up), for a fleet without etcd and for the move's tests. The etcd directory (branch
// `fleet`) answers the same interface (peers.ts).
import 'server-only';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseKeyLine } from '../checkpoints/keys';
import type { Peer, Peers } from './peers';

export const hostIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** One entry as the operator writes it: {id, url, publicKey}; the rest is filled in. */
export type PeerEntry = Pick<Peer, 'id' | 'url' | 'publicKey'> & Partial<Peer>;

/** Checks one entry (id, an http(s) URL, a key line): a bad list is refused whole, never half-used. */
function checked(entry: PeerEntry, at: string): Peer {
  if (typeof entry?.id !== 'string' || !hostIdPattern.test(entry.id)) throw new Error(`peer ${JSON.stringify(entry?.id)}: an id is [a-z0-9][a-z0-9-]{0,62}`);
  let url: URL;
  try {
    url = new URL(String(entry.url));
  } catch {
    throw new Error(`peer ${entry.id}: "${entry.url}" is no URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`peer ${entry.id}: its URL must be http(s)`);
  parseKeyLine(String(entry.publicKey));
  return { id: entry.id, url: url.origin, publicKey: entry.publicKey, memAvailableBytes: entry.memAvailableBytes ?? 0, seenAt: entry.seenAt ?? at };
}

/** A fixed list: always fresh (nothing to go stale). */
export function staticPeers(self: string, list: PeerEntry[]): Peers {
  const at = new Date().toISOString();
  const peers = list.map((p) => checked(p, at));
  return { self, get: (id) => peers.find((p) => p.id === id), all: () => [...peers], fresh: () => true };
}

/** This host's id in the fleet (FREEZEFRAME_HOST_ID, default the machine's name). */
export function hostId(env: NodeJS.ProcessEnv = process.env): string {
  const id = env.FREEZEFRAME_HOST_ID ?? os.hostname().toLowerCase();
  if (!hostIdPattern.test(id)) throw new Error(`FREEZEFRAME_HOST_ID must be [a-z0-9][a-z0-9-]{0,62}, not "${id}"`);
  return id;
}

/** The operator's list from the environment; an empty fleet (this host alone) when there is none. */
export function peersFromEnv(env: NodeJS.ProcessEnv = process.env): Peers {
  const self = hostId(env);
  const read = (): PeerEntry[] => {
    const text = env.FREEZEFRAME_PEERS_FILE ? readFileSync(env.FREEZEFRAME_PEERS_FILE, 'utf8') : env.FREEZEFRAME_PEERS;
    if (!text) return [];
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list)) throw new Error('FREEZEFRAME_PEERS is a JSON list of {id, url, publicKey}');
    return list as PeerEntry[];
  };
  if (!env.FREEZEFRAME_PEERS_FILE) return staticPeers(self, read());
  // A file: read at each look-up, so the operator edits it without a restart.
  const now = () => staticPeers(self, read());
  return { self, get: (id) => now().get(id), all: () => now().all(), fresh: () => true };
}
