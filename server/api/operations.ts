// The one operations layer: the CLI, the server actions and the HTTP API all call these; each validates its input
// (the shared schemas), runs the engine and returns a typed result, never throws.
import 'server-only';
import { rm } from 'node:fs/promises';
import type { Inspection } from '../checkpoints/inspect';
import { publicKeyLine, trustKey } from '../checkpoints/keys';
import { loadConfig } from '../config';
import { getEngine } from '../engineHandle';
import { FreezeframeError } from '../errors';
import type { CheckpointRecord, DesktopRecord } from '../desktops/records';
import type { Cloned } from '../desktops/registry';
import { attempt, invalid, type Result } from './results';
import { lazyModule } from '../lazyModule';
import { tempFile } from './transfer';
import { checkpointView, desktopView } from './redact';
import type { CheckpointView, DesktopView } from '../../lib/viewTypes';
import type { Peer } from '../fleet/peers';
import { desktopIdPattern } from '../../lib/ids';
import { checkpointDetail, desktopDetail, desktopSummaries, storageView, type CheckpointDetail, type DesktopDetail, type DesktopSummary, type StorageView } from './views';

/** This installation's public key line, which another installation trusts to import its archives. */
export async function signingKeyLine(): Promise<Result<{ line: string }>> {
  return attempt(async () => ({ line: await publicKeyLine(loadConfig().keyDir) }));
}

/** Trusts archives signed by the key of a line that `signingKeyLine` printed elsewhere. */
export async function trustSigningKey(line: unknown): Promise<Result<{ key: string; name: string; file: string; added: boolean }>> {
  if (typeof line !== 'string') return { ok: false, status: 400, error: { code: 'invalid', message: 'a key line is text' } };
  return attempt(() => trustKey(loadConfig().keyDir, line));
}

/**
 * The schemas (zod), loaded by the first operation that has input to check: importing zod takes ~60 ms, and a
 * `freezeframe list` checks nothing (bench/cli.mts).
 */
const schemas = lazyModule(() => import('./schemas'));

export async function listDesktops(): Promise<Result<{ desktops: DesktopSummary[] }>> {
  return attempt(async () => ({ desktops: await desktopSummaries(getEngine()) }));
}

/** Every desktop with its checkpoints, as the CLI lists them (no VNC password: it is a list). */
export async function listDesktopsWithCheckpoints(): Promise<Result<{ desktops: (DesktopView & { checkpoints: CheckpointView[] })[] }>> {
  return attempt(async () => {
    const { desktops } = getEngine();
    const [all, checkpoints] = await Promise.all([desktops.list(), desktops.checkpoints()]);
    return { desktops: all.map((d) => ({ ...desktopView(d), checkpoints: checkpoints.filter((c) => c.desktop === d.id).map(checkpointView) })) };
  });
}

/** Starts a desktop here, or (in a fleet) on the host asked for or the one with the most free memory. */
export async function startDesktop(input: unknown): Promise<Result<{ desktop: DesktopRecord; host?: string }>> {
  const parsed = (await schemas()).startInput.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  const { host, ...spec } = parsed.data;
  const { fleet } = getEngine();
  if (host !== undefined && !fleet) {
    return { ok: false, status: 400, error: { code: 'invalid', message: 'this server is in no fleet (FREEZEFRAME_ETCD is unset): there is no other host to start it on', fields: { host: ['no fleet'] } } };
  }
  if (fleet) {
    const { chooseHost, forward } = await import('../fleet/remote');
    const target = chooseHost(fleet, host);
    if (target && 'ok' in target) return target;
    if (target) {
      // The target starts it (host named: no second placement there).
      const started = await forward<{ desktop: DesktopRecord; host?: string }>(fleet, target, '/api/desktops', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...spec, host: target.id }) });
      if (started.ok) fleet.placed(started.desktop.id, target.id);
      return started;
    }
  }
  return attempt(async () => ({ desktop: await getEngine().desktops.start(spec), ...(fleet ? { host: fleet.self } : {}) }));
}

/**
 * A record this host keeps of a desktop that moved to another host (stopped, movedTo): the desktop is its new
 * owner's, and what is asked of it here goes there.
 */
const movedAway = (desktop: Pick<DesktopRecord, 'state' | 'movedTo'> | undefined): boolean => !!desktop?.movedTo && desktop.state === 'stopped';

/** A desktop's detail (with its control VNC password, for its page); in a fleet, read from the host that runs it. */
export async function getDesktop(id: unknown): Promise<Result<DesktopDetail & { host?: string }>> {
  const parsed = (await schemas()).desktopId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'desktop id');
  const engine = getEngine();
  const here = await attempt(() => desktopDetail(engine, parsed.data));
  // Not here, or here only as the record of a desktop that moved away: its owner's detail (the page follows it).
  const away = here.ok && movedAway(here.desktop);
  const owner = (!here.ok && here.status === 404) || away ? engine.fleet?.ownerOf(parsed.data) : undefined;
  if (!owner) return here.ok && engine.fleet ? { ...here, host: engine.fleet.self } : here;
  const { forward } = await import('../fleet/remote');
  const there = await forward<DesktopDetail>(engine.fleet!, owner, `/api/desktops/${parsed.data}`);
  if (there.ok) return { ...there, host: owner.id };
  // The owner did not answer: this host's record, which says where the desktop went.
  return here.ok ? { ...here, host: engine.fleet!.self } : there;
}

/** The fleet as this host last read it from etcd (hosts, desktops, checkpoints: no secret), and whether it is fresh. */
export async function fleetSnapshot(): Promise<Result<{ fleet: import('../fleet/view').FleetSnapshot }>> {
  const { fleet } = getEngine();
  if (!fleet) return { ok: false, status: 404, error: { code: 'not_found', message: 'this server is in no fleet (FREEZEFRAME_ETCD is unset)' } };
  return { ok: true, fleet: fleet.peers.snapshot() };
}

/**
 * replyFirst (the server's API and actions): answered once the checkpoint is sealed, its follow-up (home copy,
 * tidying) after the reply; the CLI waits for it and says what the retention policy removed.
 */
export async function checkpointDesktop(
  id: unknown,
  input: unknown,
  { replyFirst = false }: { replyFirst?: boolean } = {},
): Promise<Result<{ desktop: DesktopRecord; checkpoint: CheckpointRecord; removed?: string[]; bytesFreed?: number }>> {
  const parsedId = (await schemas()).desktopId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'desktop id');
  const parsed = (await schemas()).checkpointInput.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  const moved = movedOwner(parsedId.data);
  if (moved) return onOwner(moved, `/api/desktops/${parsedId.data}/checkpoint`, parsed.data);
  const here = await attempt(async () => {
    const { desktops } = getEngine();
    // An unknown desktop is a 404: the engine reads its record before it takes any lock (operations/checkpoint.ts).
    // No reconcile here: the engine reconciles under the lock anyway, and this one was on the dump's path.
    const { desktop, checkpoint, tidied } = await desktops.checkpoint(parsedId.data, { ...parsed.data, replyFirst });
    // What the retention policy removed after it, if it removed anything.
    return { desktop, checkpoint, ...(tidied?.removed.length ? { removed: tidied.removed, bytesFreed: tidied.bytesFreed } : {}) };
  });
  return orOnOwner(here, parsedId.data, `/api/desktops/${parsedId.data}/checkpoint`, parsed.data);
}

/**
 * In a fleet, a desktop this host does not have but another one runs: the same call on its owner, with the fleet
 * key (the desktop page of a desktop on another host works from this host's dashboard).
 */
async function orOnOwner<T extends object>(here: Result<T>, desktopId: string, path: string, body: unknown): Promise<Result<T>> {
  const { fleet } = getEngine();
  const owner = !here.ok && here.status === 404 ? fleet?.ownerOf(desktopId) : undefined;
  return owner ? onOwner(owner, path, body) : here;
}

/**
 * In a fleet, the owner of a desktop this host keeps only the record of (it moved away): what is asked of it goes
 * there without being tried here (a stop here would answer for a record that is stopped already).
 */
function movedOwner(desktopId: string): Peer | undefined {
  const { fleet } = getEngine();
  return fleet?.movedFromHere(desktopId) ? fleet.ownerOf(desktopId) : undefined;
}

async function onOwner<T extends object>(owner: Peer, path: string, body: unknown, method = 'POST'): Promise<Result<T>> {
  const { forward } = await import('../fleet/remote');
  return forward<T>(getEngine().fleet!, owner, path, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}) });
}

/**
 * In a fleet, a checkpoint this host does not have but another host does (the timeline of a desktop that runs
 * there, shown on this host's page): the same call on that host, with the fleet key. desktop: the checkpoint's
 * desktop when the caller knows it (a checkpoint taken within the last second is not in this host's catalog yet).
 */
async function checkpointOnOwner<T extends object>(here: Result<T>, checkpointId: string, desktop: string | undefined, path: string, method: string, body?: unknown): Promise<Result<T>> {
  const { fleet } = getEngine();
  if (here.ok || here.status !== 404 || !fleet) return here;
  const { checkpointOwner, forward } = await import('../fleet/remote');
  const owner = checkpointOwner(fleet, checkpointId, desktop);
  if (!owner) return here;
  const init: RequestInit = body === undefined ? { method } : { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  return forward<T>(fleet, owner, path, init);
}

/** The desktop a checkpoint-side call names as the checkpoint's (the page's hint), if it is one. */
const desktopHint = (desktop: unknown): string | undefined => (typeof desktop === 'string' && desktopIdPattern.test(desktop) ? desktop : undefined);

type Restored = { desktop: DesktopRecord; checkpoint: CheckpointRecord; restoreMs: number };

export async function restoreCheckpoint(id: unknown, input: unknown): Promise<Result<Restored>> {
  const parsedId = (await schemas()).checkpointId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'checkpoint id');
  const parsed = (await schemas()).restoreOptions.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  const here = await attempt(() => getEngine().desktops.restore(parsedId.data, parsed.data));
  return checkpointOnOwner(here, parsedId.data, undefined, `/api/checkpoints/${parsedId.data}/restore`, 'POST', parsed.data);
}

type Clones = { checkpoint: string; desktops: DesktopView[]; failed: Cloned['failed']; ms: number };

/**
 * N new desktops from one checkpoint (201 with the clones; those that failed are listed, the others run). desktop:
 * the checkpoint's desktop when the caller knows it (see checkpointOnOwner).
 */
export async function cloneCheckpoint(id: unknown, input: unknown, { desktop }: { desktop?: unknown } = {}): Promise<Result<Clones>> {
  const parsedId = (await schemas()).checkpointId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'checkpoint id');
  const parsed = (await schemas()).cloneOptions.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  const here = await attempt(async (): Promise<Clones> => {
    const cloned = await getEngine().desktops.clone(parsedId.data, parsed.data);
    // A list: the views, never the VNC passwords (the desktop page gets those, as for any desktop).
    return { checkpoint: cloned.checkpoint.id, desktops: cloned.desktops.map(desktopView), failed: cloned.failed, ms: cloned.ms };
  });
  // A checkpoint of another host is cloned there (its images are there); the clones' pages open here at once.
  const { fleet } = getEngine();
  if (here.ok || here.status !== 404 || !fleet) return here;
  const { checkpointOwner, forward } = await import('../fleet/remote');
  const owner = checkpointOwner(fleet, parsedId.data, desktopHint(desktop));
  if (!owner) return here;
  const there = await forward<Clones>(fleet, owner, `/api/checkpoints/${parsedId.data}/clone`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(parsed.data) });
  if (there.ok) for (const d of there.desktops) fleet.placed(d.id, owner.id);
  return there;
}

/** Restores a desktop: the checkpoint named, or else its newest complete one. */
export async function restoreDesktop(input: unknown): Promise<Result<Restored>> {
  const parsed = (await schemas()).restoreInput.safeParse(input);
  if (!parsed.success) return invalid(parsed.error);
  const { desktopId: desktop, checkpointId: named, stopRunning, lazy } = parsed.data;
  const { fleet } = getEngine();
  const owner = fleet?.ownerOf(desktop);
  if (owner && (fleet!.movedFromHere(desktop) || !(await getEngine().desktops.get(desktop).then(() => true, () => false)))) {
    // On the host that runs it: the checkpoint named, or its newest complete one in the catalog.
    const chosen = named ?? fleet!.peers.snapshot().checkpoints.find((c) => c.desktop === desktop && c.state === 'complete')?.id;
    if (!chosen) return { ok: false, status: 409, error: { code: 'bad_state', message: `desktop ${desktop} has no complete checkpoint to restore` } };
    const { forward } = await import('../fleet/remote');
    return forward(fleet!, owner, `/api/checkpoints/${chosen}/restore`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ stopRunning, lazy }) });
  }
  return attempt(async () => {
    const { desktops } = getEngine();
    const mine = await desktops.checkpoints(desktop);
    const chosen = named ? mine.find((c) => c.id === named) : mine.findLast((c) => c.state === 'complete');
    if (!chosen) {
      throw named
        ? new FreezeframeError('not_found', `desktop ${desktop} has no checkpoint ${named}`)
        : new FreezeframeError('bad_state', `desktop ${desktop} has no complete checkpoint to restore`);
    }
    return desktops.restore(chosen.id, { stopRunning, lazy });
  });
}

export async function stopDesktop(id: unknown): Promise<Result<{ desktop: DesktopRecord }>> {
  const parsed = (await schemas()).desktopId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'desktop id');
  const moved = movedOwner(parsed.data);
  if (moved) return onOwner(moved, `/api/desktops/${parsed.data}/stop`, {});
  const here = await attempt(async () => {
    const { desktops } = getEngine();
    await desktops.get(parsed.data); // see checkpointDesktop
    return { desktop: await desktops.stop(parsed.data) };
  });
  return orOnOwner(here, parsed.data, `/api/desktops/${parsed.data}/stop`, {});
}

export async function getCheckpoint(id: unknown): Promise<Result<{ checkpoint: CheckpointDetail }>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  const here = await attempt(async () => ({ checkpoint: await checkpointDetail(getEngine(), parsed.data) }));
  return checkpointOnOwner(here, parsed.data, undefined, `/api/checkpoints/${parsed.data}`, 'GET');
}

/** Deletes a checkpoint's images and record (refused while its desktop is busy); says how much space it freed. */
export async function deleteCheckpoint(id: unknown, { desktop }: { desktop?: unknown } = {}): Promise<Result<{ checkpoint: string; bytesFreed: number }>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  const here = await attempt(() => getEngine().desktops.deleteCheckpoint(parsed.data));
  return checkpointOnOwner(here, parsed.data, desktopHint(desktop), `/api/checkpoints/${parsed.data}`, 'DELETE');
}

/** The process tree, files, sockets and memory the checkpoint's images hold. */
export async function inspectCheckpoint(id: unknown): Promise<Result<Inspection>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  const here = await attempt(() => getEngine().desktops.inspect(parsed.data));
  return checkpointOnOwner(here, parsed.data, undefined, `/api/checkpoints/${parsed.data}/inspect`, 'GET');
}

/** The PNG of the screen taken just before the dump; not_found when that checkpoint has none. */
export async function checkpointThumbnail(id: unknown): Promise<Result<{ file: string }>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  return attempt(async () => {
    const file = await getEngine().desktops.thumbnail(parsed.data);
    if (!file) throw new FreezeframeError('not_found', `checkpoint ${parsed.data} has no thumbnail`);
    return { file };
  });
}

/**
 * Writes the checkpoint's archive to output (the CLI's --output), or else to a temp file, which the caller streams
 * and deletes; a failed export leaves no file.
 */
export async function exportCheckpoint(id: unknown, output?: string): Promise<Result<{ checkpoint: string; file: string; bytes: number }>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  const file = output ?? (await tempFile('.export.tar.zst'));
  const result = await attempt(() => getEngine().desktops.exportCheckpoint(parsed.data, file));
  if (!result.ok && !output) await rm(file, { force: true });
  return result;
}

/** Imports an archive file (the CLI's; left where it is); its desktop appears, stopped. */
export async function importArchive(file: string): Promise<Result<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }>> {
  return attempt(() => getEngine().desktops.importCheckpoint(file));
}

/** Imports an uploaded archive (the file is consumed: deleted whatever happens). */
export async function importCheckpoint(file: string): Promise<Result<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }>> {
  try {
    return await importArchive(file);
  } finally {
    await rm(file, { force: true });
  }
}

/** Sets a desktop's retention policy and applies it at once; says which checkpoints went and the bytes freed. */
export async function setRetention(id: unknown, input: unknown): Promise<Result<{ desktop: DesktopRecord; removed: string[]; bytesFreed: number }>> {
  const parsedId = (await schemas()).desktopId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'desktop id');
  const parsed = (await schemas()).retentionInput.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  const moved = movedOwner(parsedId.data);
  if (moved) return onOwner(moved, `/api/desktops/${parsedId.data}/retention`, parsed.data, 'PUT');
  const here = await attempt(async () => {
    const { desktop, removed, bytesFreed } = await getEngine().desktops.setRetention(parsedId.data, {
      keepLast: parsed.data.keepLast ?? undefined, maxBytes: parsed.data.maxBytes ?? undefined,
    });
    return { desktop, removed, bytesFreed };
  });
  const { fleet } = getEngine();
  const owner = !here.ok && here.status === 404 ? fleet?.ownerOf(parsedId.data) : undefined;
  return owner ? onOwner(owner, `/api/desktops/${parsedId.data}/retention`, parsed.data, 'PUT') : here;
}

/** Pins (or unpins) a checkpoint: the retention policy never removes a pinned one. */
export async function pinCheckpoint(id: unknown, input: unknown, { desktop }: { desktop?: unknown } = {}): Promise<Result<{ checkpoint: CheckpointRecord }>> {
  const parsedId = (await schemas()).checkpointId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'checkpoint id');
  const parsed = (await schemas()).pinInput.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  const here = await attempt(() => getEngine().desktops.pin(parsedId.data, parsed.data.pinned));
  return checkpointOnOwner(here, parsedId.data, desktopHint(desktop), `/api/checkpoints/${parsedId.data}/pin`, 'PUT', parsed.data);
}

/** Removes a stopped desktop with its checkpoints, freeing its disk and display; says how many bytes. */
export async function removeDesktop(id: unknown): Promise<Result<{ desktop: string; checkpoints: string[]; bytesFreed: number; display: number }>> {
  const parsed = (await schemas()).desktopId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'desktop id');
  const here = await attempt(() => getEngine().desktops.remove(parsed.data));
  // A stopped desktop of another host (its page or the fleet's list here): removed there, with its checkpoints.
  const { fleet } = getEngine();
  const owner = !here.ok && here.status === 404 ? fleet?.ownerOf(parsed.data) : undefined;
  return owner ? onOwner(owner, `/api/desktops/${parsed.data}`, undefined, 'DELETE') : here;
}

export async function getStorage(): Promise<Result<{ storage: StorageView }>> {
  return attempt(async () => ({ storage: await storageView(getEngine()) }));
}
