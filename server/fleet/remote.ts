// The operations' side of the fleet: where a new desktop starts (placement, a start for another host forwarded to it
// with the fleet key) and a desktop's detail read from the host that runs it. Results as every operation's.
import 'server-only';
import type { Fleet } from './fleet';
import { placeOn, type Peer } from './peers';
import type { Failure, Result } from '../api/results';

/**
 * The host a start goes to: the one asked for, else the one with the most free memory among the fleet's live hosts.
 * undefined: here. While the view is stale, a start without a host stays here (no guess from an old view); one
 * asked for goes where asked if that host is known.
 */
export function chooseHost(fleet: Fleet, asked: string | undefined): Peer | undefined | Failure {
  if (asked !== undefined) {
    if (asked === fleet.self) return undefined;
    const peer = fleet.peers.get(asked);
    if (!peer) return { ok: false, status: 404, error: { code: 'not_found', message: `no host ${asked} in the fleet (known: ${fleet.peers.all().map((p) => p.id).join(', ') || 'none'})` } };
    return peer;
  }
  if (!fleet.peers.fresh()) return undefined;
  const best = placeOn(fleet.peers.all());
  return best && best.id !== fleet.self ? best : undefined;
}

/** A call to another host's API, its JSON answer as this host's result (the owner's error as it said it). */
export async function forward<T extends object>(fleet: Fleet, peer: Peer, path: string, init: RequestInit = {}): Promise<Result<T>> {
  let response: Response;
  try {
    response = await fleet.call(peer, path, init);
  } catch (error) {
    return { ok: false, status: 500, error: { code: 'internal', message: `the host ${peer.id} (${peer.url}) cannot be reached: ${(error as Error).message}` } };
  }
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { ok: false, status: 500, error: { code: 'internal', message: `the host ${peer.id} answered ${response.status}: ${text.trim().slice(0, 200)}` } };
  }
  if (!response.ok) {
    const error = (body.error ?? { code: 'internal', message: `the host ${peer.id} answered ${response.status}` }) as Failure['error'];
    const status = ([400, 404, 409, 413, 415, 422] as const).find((s) => s === response.status) ?? 500;
    return { ok: false, status, error: { ...error, message: `on ${peer.id}: ${error.message}` } };
  }
  return { ok: true, ...(body as T) };
}


/**
 * The host that has this checkpoint when it is another one: the catalog's; else (taken within the last second,
 * not read from etcd yet) the owner of the desktop it was taken of, when the caller knows which (the page does).
 */
export function checkpointOwner(fleet: Fleet, checkpointId: string, desktopId?: string): Peer | undefined {
  const listed = fleet.peers.snapshot().checkpoints.find((c) => c.id === checkpointId)?.host;
  if (listed !== undefined && listed !== fleet.self) return fleet.peers.get(listed);
  return desktopId ? fleet.ownerOf(desktopId) : undefined;
}

/**
 * Another host's answer to a GET (a picture, an archive) as this host's, its body streamed through as it comes (an
 * export is hundreds of MB: never buffered here). Only the time to the owner's first answer is limited.
 */
export async function passThrough(fleet: Fleet, peer: Peer, path: string, answerWithinMs = 30_000): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer within ${answerWithinMs} ms`)), answerWithinMs);
  let response: Response;
  try {
    response = await fleet.call(peer, path, { signal: abort.signal });
  } catch (error) {
    const message = `the host ${peer.id} (${peer.url}) cannot be reached: ${(error as Error).message}`;
    return Response.json({ error: { code: 'internal', message } }, { status: 500 });
  } finally {
    clearTimeout(timer);
  }
  const headers = new Headers();
  for (const name of ['content-type', 'content-length', 'content-disposition', 'cache-control']) {
    const value = response.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  return new Response(response.body, { status: response.status, headers });
}
