// The fleet's operations for the CLI, the HTTP API and the server actions (as operations.ts): a move's source and
// target sides, each validating its input and returning a typed result.
import 'server-only';
import { createHash, timingSafeEqual } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { getEngine } from '../engineHandle';
import { fleetKey } from '../fleet/fleetKey';
import { moveDesktop as move, moveMethods, type Moved, type MoveMethod } from '../fleet/move';
import { getPeers } from '../fleet/peersHandle';
import { openPageServer as openPages, receiveMove as receive, type Received } from '../fleet/receive';
import { hostIdPattern } from '../fleet/staticPeers';
import { FreezeframeError } from '../errors';
import { attempt, type Result } from './results';
import { desktopIdPattern } from '../../lib/ids';

export type { Moved, Received };

const bad = (message: string) => ({ ok: false as const, status: 400 as const, error: { code: 'invalid' as const, message } });

/** Moves a running desktop of this host to another host of the fleet ({host, method?}). */
export async function moveDesktop(id: unknown, input: unknown): Promise<Result<Moved>> {
  if (typeof id !== 'string' || !desktopIdPattern.test(id)) return bad('invalid desktop id: not a desktop id');
  const { host, method = 'copy' } = (input ?? {}) as { host?: unknown; method?: unknown };
  if (typeof host !== 'string' || !hostIdPattern.test(host)) return bad('invalid input: host: a host id ([a-z0-9][a-z0-9-]{0,62}) is needed');
  if (typeof method !== 'string' || !(moveMethods as readonly string[]).includes(method)) return bad(`invalid input: method: one of ${moveMethods.join(', ')}`);
  const { fleet, desktops } = getEngine();
  if (fleet) {
    // A desktop of another host (opened here through the relay, or moved away from here): its owner moves it.
    const elsewhere = fleet.movedFromHere(id) || !(await desktops.get(id).then(() => true, () => false));
    const owner = elsewhere ? fleet.ownerOf(id) : undefined;
    if (owner) {
      const { forward } = await import('../fleet/remote');
      return forward<Moved>(fleet, owner, `/api/desktops/${id}/move`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ host, method }), signal: AbortSignal.timeout(300_000) });
    }
  }
  return attempt(async () => {
    const { desktops, config } = getEngine();
    await desktops.get(id); // an unknown desktop is a 404 before anything else
    return move({ desktops, peers: getPeers(), key: fleetKey(), stateDir: config.stateDir }, id, host, method as MoveMethod);
  });
}

/** Whether a host-to-host call carries the fleet's key (the token alone is a person's, not a host's). */
export function fromFleet(authorization: string | null): boolean {
  const key = fleetKey();
  if (!key) return false;
  const given = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  // Both hashed first: constant time whatever the lengths (auth.ts).
  return given !== undefined && timingSafeEqual(hash(given), hash(key));
}

const hash = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * The fleet's hosts for the page's "Move to host...": ids and URLs, no keys; this one marked `self` (the page offers
 * every host but the one the desktop runs on, which is another one once it moved away from here).
 */
export function moveTargets(): { id: string; url: string; self?: true }[] {
  try {
    const peers = getPeers();
    return peers.all().map((p) => ({ id: p.id, url: p.url, ...(p.id === peers.self ? { self: true as const } : {}) }));
  } catch {
    return []; // a malformed directory: the page still shows the desktop (a move says what is wrong)
  }
}

/** This host as a move's target sees itself: what a source checks before it freezes anything. */
export function receiverReady(): Result<{ host: string }> {
  return { ok: true, host: getPeers().self };
}

/** A page server for one move's dump (method page-server): where the source sends the memory. */
export async function openPageServer(): Promise<Result<{ transfer: string; address: string; port: number }>> {
  return attempt(() => openPages(getPeers(), getEngine().config));
}

/**
 * Imports and restores a moving desktop's archive (the file is consumed); pages: its page server's transfer;
 * lazy: the port of the source's (from's) lazy pages server.
 */
export async function receiveMove(file: string, pages?: string, lazy?: { from: string | undefined; port: string }): Promise<Result<Received>> {
  try {
    if (pages !== undefined && !/^[0-9a-f]{16}$/.test(pages)) return bad('invalid X-Freezeframe-Pages: not a page server transfer');
    if (lazy && (!/^[1-9][0-9]{0,4}$/.test(lazy.port) || Number(lazy.port) > 65535)) return bad('invalid X-Freezeframe-Lazy: not a port');
    if (lazy && (lazy.from === undefined || !hostIdPattern.test(lazy.from))) return bad('invalid X-Freezeframe-From: a lazy move names its source host');
    return await attempt(() => receive(getEngine().desktops, getPeers(), file, { pages, lazy: lazy ? { from: lazy.from!, port: Number(lazy.port) } : undefined }));
  } finally {
    await rm(file, { force: true });
  }
}

export function notFromFleet(): Result<never> {
  const error = new FreezeframeError('unauthorized', 'only a host of the fleet (with the fleet key) sends a moving desktop');
  return { ok: false, status: 401, error: { code: error.code, message: error.message } };
}
