// Moving a running desktop to another host of the fleet, the source's side: freeze and dump (the bridge holds the
// viewers as for any checkpoint), send the signed archive to the target, and once the target says the desktop runs
// there, forget it here. Any failure before that: the desktop runs here again, from the images it froze at.
import 'server-only';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { FreezeframeError } from '../errors';
import { toErrorInfo } from '../errorInfo';
import type { ErrorCode } from '../../lib/errorCodes';
import type { Desktops } from '../desktops/registry';
import type { Peer, Peers } from './peers';
import type { Received } from './receive';
import { afterServed, checkLazyServing, comeBackLazily, lazyServerAddress } from './lazyMove';
import { peerFetch } from './peerCall';
import { moveMethods, type MoveMethod } from '../../lib/fleetTypes';

// The methods are the page's too (its Move form offers them): defined in lib/, named here as before.
export { moveMethods, type MoveMethod };

export interface Moved {
  desktop: string;
  from: string;
  host: string;
  method: MoveMethod;
  checkpoint: string;
  /** From the freeze (the dump's start) to the target's answer that the desktop runs there. */
  frozenMs: number;
  dumpMs: number;
  /** The archive's bytes sent to the target (what crossed the network). */
  bytesSent: number;
  /** The target's own figures: its restore. */
  restoreMs: number;
  /** Where the frozen time went, in order (ms): the checkpoint (dump and its bookkeeping), the archive, the target. */
  phases: { checkpointMs: number; exportMs: number; targetMs: number; target?: Received['phases'] };
  /**
   * lazy: the source's dump still serving the memory when the move answered (its criu's pid and port); it exits
   * once the target has fetched every page, and the checkpoint goes then (fleet/lazyMove.ts).
   */
  lazy?: { dumpPid: number; address: string; port: number };
}

/**
 * zstd's level for a move's archive: it crosses the fleet's network once, and its compression is on the frozen
 * time's path (FREEZEFRAME_MOVE_ZSTD_LEVEL for the bench; see docs/move.md for the measurement).
 */
const moveZstdLevel = Number(process.env.FREEZEFRAME_MOVE_ZSTD_LEVEL ?? 1);

export interface MoveDeps {
  desktops: Desktops;
  peers: Peers;
  /** The fleet's key (fleetKey.ts); undefined: this host is in no fleet. */
  key: string | undefined;
  stateDir: string;
}

/** A host-to-host call to a peer, with the fleet's key. */
export async function callPeer(peer: Peer, key: string, route: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
  const { timeoutMs = 10_000, ...rest } = init;
  try {
    return await peerFetch(new URL(route, peer.url), { ...rest, key, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new FreezeframeError('unreachable', `host ${peer.id} (${peer.url}) did not answer: ${cause?.code ?? cause?.message ?? (error as Error).message}`, {}, { cause: error });
  }
}

/** The peer's JSON error as a FreezeframeError of the same code, saying it was the target's. */
async function peerError(peer: Peer, response: Response): Promise<FreezeframeError> {
  const text = await response.text().catch(() => '');
  let error: { code?: ErrorCode; message?: string } = {};
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
  } catch {
    error = { message: text.trim() || response.statusText };
  }
  const code: ErrorCode = response.status === 401 ? 'unauthorized' : error.code ?? 'internal';
  return new FreezeframeError(code, `host ${peer.id} refused: ${error.message ?? `HTTP ${response.status}`}`, { status: response.status });
}

/** Checks everything that can be checked before the desktop is frozen: nothing is stopped for a move that cannot be. */
async function preflight({ desktops, peers, key }: MoveDeps, id: string, host: string): Promise<Peer> {
  if (!key) throw new FreezeframeError('bad_state', 'this host is in no fleet: FREEZEFRAME_FLEET_KEY_FILE is not set');
  if (host === peers.self) throw new FreezeframeError('invalid', `desktop ${id} is on host ${host} already`);
  const peer = peers.get(host);
  if (!peer) {
    const known = peers.all().map((p) => p.id).filter((p) => p !== peers.self);
    throw new FreezeframeError('not_found', `no host ${host} in the fleet${known.length ? ` (hosts: ${known.join(', ')})` : ' (this host knows no other)'}`);
  }
  const record = await desktops.get(id);
  if (record.movedTo) throw new FreezeframeError('bad_state', `desktop ${id} moved to host ${record.movedTo.host} already`);
  if (record.state !== 'running') throw new FreezeframeError('bad_state', `desktop ${id} is ${record.state}: only a running desktop moves`, { state: record.state });
  if (record.kind !== 'contained') throw new FreezeframeError('bad_state', `desktop ${id} runs on this host's display: only a self-contained desktop moves`);
  const ready = await callPeer(peer, key, '/api/fleet/receive', { timeoutMs: 5_000 });
  if (!ready.ok) throw await peerError(peer, ready);
  const answer = (await ready.json()) as { host?: string };
  if (answer.host !== peer.id) throw new FreezeframeError('invalid', `${peer.url} answers as host ${answer.host}, not ${peer.id}`);
  return peer;
}

export async function moveDesktop(deps: MoveDeps, id: string, host: string, method: MoveMethod = 'copy'): Promise<Moved> {
  const { desktops } = deps;
  const peer = await preflight(deps, id, host);
  // lazy: the memory stays here, served from this host's fleet address by the dump itself (fleet/lazyMove.ts).
  if (method === 'lazy') await checkLazyServing();
  const lazy = method === 'lazy' ? await lazyServerAddress(deps.peers) : undefined;
  // page-server: the target's criu waits for this dump's memory.
  let pages: { transfer: string; address: string; port: number } | undefined;
  let t0 = performance.now();
  let made: Awaited<ReturnType<Desktops['checkpoint']>>;
  for (let attempt = 1; ; attempt++) {
    // page-server: the target's criu waits for this dump's memory (one page server per dump).
    if (method === 'page-server') {
      const opened = await callPeer(peer, deps.key!, '/api/fleet/pages', { method: 'POST' });
      if (!opened.ok) throw await peerError(peer, opened);
      pages = (await opened.json()) as typeof pages;
    }
    t0 = performance.now();
    try {
      // The freeze: a checkpoint like any other (the viewers held), kept until the target confirms. With a page
      // server its memory is on the target once the dump ends: a target that dies after that takes it along (see
      // docs/move.md).
      made = await desktops.checkpoint(id, pages ? { pageServer: { address: pages.address, port: pages.port } } : lazy ? { lazyServer: lazy } : {});
      break;
    } catch (error) {
      const info = toErrorInfo(error);
      const state = (await desktops.get(id).catch(() => undefined))?.state;
      // A failed dump leaves the tree running (criu resumes it). A page server's dump once failed on a tree just
      // restored ("Unable to detach from PID: No such process", 1 run in 6): once more, with a fresh page server.
      if (pages && attempt < 2 && state === 'running') continue;
      throw new FreezeframeError(info.code, `move of desktop ${id} to host ${host} failed at its dump: ${info.message}; ${state === 'running' ? 'it never stopped here' : `it is ${state ?? 'gone'} here`}`, {}, { cause: error });
    }
  }
  const { checkpoint, serving } = made;
  const t1 = performance.now();
  let t2 = t1;
  // Back here from the images it froze at (a lazy dump: its memory from the dump's own page server).
  const restoreHere = (): Promise<string> => serving
    ? comeBackLazily(desktops, serving, id, checkpoint.id, lazy!, desktops.paths.checkpointImages(checkpoint.id))
    : desktops.markMoving(id, checkpoint.id, undefined).then(() => desktops.restore(checkpoint.id)).then(() => 'it runs on this host again', (e: unknown) => `and it could not be restored here (${toErrorInfo(e).message}): checkpoint ${checkpoint.id} is kept`);
  // From here a restart of this server asks the target before anything restores the desktop here (recover.ts).
  await desktops.markMoving(id, checkpoint.id, host).catch(async (error: unknown) => {
    await restoreHere().catch(() => {});
    throw error;
  });
  const transfers = path.join(deps.stateDir, 'transfers');
  await mkdir(transfers, { recursive: true, mode: 0o700 });
  const file = path.join(transfers, `move-${checkpoint.id}-${randomBytes(4).toString('hex')}.tar.zst`);
  let answer: Received;
  let bytesSent = 0;
  try {
    await desktops.exportCheckpoint(checkpoint.id, file, { level: moveZstdLevel });
    t2 = performance.now();
    bytesSent = (await stat(file)).size + (pages ? checkpoint.dumpStats?.pagesWritten ?? 0 : 0) * 4096;
    const response = await callPeer(peer, deps.key!, '/api/fleet/receive', {
      method: 'POST',
      headers: { 'Content-Type': 'application/zstd', 'X-Freezeframe-From': deps.peers.self, ...(pages ? { 'X-Freezeframe-Pages': pages.transfer } : {}), ...(lazy ? { 'X-Freezeframe-Lazy': String(lazy.port) } : {}) },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: 'half',
      // The target imports and restores before it answers: a large desktop's archive, on a slow link.
      timeoutMs: 300_000,
    } as RequestInit & { timeoutMs: number });
    if (!response.ok) throw await peerError(peer, response);
    answer = (await response.json()) as Received;
  } catch (error) {
    // Back here, from the images it froze at: the viewers' connections come back with it (the kept namespace).
    const info = toErrorInfo(error);
    const back = await restoreHere();
    throw new FreezeframeError(info.code, `move of desktop ${id} to host ${host} failed: ${info.message}; ${back}`, { checkpoint: checkpoint.id }, { cause: error });
  } finally {
    await rm(file, { force: true });
  }
  const frozenMs = performance.now() - t0;
  await desktops.forgetMoved(id, host, checkpoint.id);
  // The target confirmed: its copy runs; this host's images of the move are no longer needed (a lazy dump's: once
  // it has served every page).
  if (serving) void afterServed(desktops, serving, id, checkpoint.id).catch((error: unknown) => console.error(`tidying after the lazy move of ${id}:`, error));
  else await desktops.deleteCheckpoint(checkpoint.id).catch(() => {});
  return {
    desktop: id, from: deps.peers.self, host, method, checkpoint: checkpoint.id, frozenMs, dumpMs: checkpoint.dumpMs ?? 0, bytesSent, restoreMs: answer.restoreMs,
    phases: { checkpointMs: t1 - t0, exportMs: t2 - t1, targetMs: t0 + frozenMs - t2, target: answer.phases },
    ...(serving ? { lazy: { dumpPid: serving.dump.pid, address: lazy!.address, port: lazy!.port } } : {}),
  };
}
