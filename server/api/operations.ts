// The one operations layer: the CLI, the server actions and the HTTP API all call these; each validates its input
// (the shared schemas), runs the engine and returns a typed result, never throws.
import 'server-only';
import { access, rm } from 'node:fs/promises';
import type { Inspection } from '../checkpoints/inspect';
import { publicKeyLine, trustKey } from '../checkpoints/keys';
import { loadConfig } from '../config';
import { getEngine } from '../engineHandle';
import { FreezeframeError } from '../errors';
import type { CheckpointRecord, DesktopRecord } from '../desktops/records';
import type { Cloned } from '../desktops/registry';
import { attempt, invalid, type Result } from './results';
import { tempFile } from './transfer';
import { checkpointView, desktopView } from './redact';
import type { CheckpointView, DesktopView } from '../../lib/viewTypes';
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
const schemas = () => import('./schemas');

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

export async function startDesktop(input: unknown): Promise<Result<{ desktop: DesktopRecord }>> {
  const parsed = (await schemas()).startInput.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  return attempt(async () => ({ desktop: await getEngine().desktops.start(parsed.data) }));
}

export async function getDesktop(id: unknown): Promise<Result<DesktopDetail>> {
  const parsed = (await schemas()).desktopId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'desktop id');
  return attempt(() => desktopDetail(getEngine(), parsed.data));
}

export async function checkpointDesktop(
  id: unknown,
  input: unknown,
): Promise<Result<{ desktop: DesktopRecord; checkpoint: CheckpointRecord; removed?: string[]; bytesFreed?: number }>> {
  const parsedId = (await schemas()).desktopId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'desktop id');
  const parsed = (await schemas()).checkpointInput.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  return attempt(async () => {
    const { desktops } = getEngine();
    await desktops.get(parsedId.data); // an unknown desktop is a 404 here, not a failed lock file in the engine
    const { desktop, checkpoint, tidied } = await desktops.checkpoint(parsedId.data, parsed.data);
    // What the retention policy removed after it, if it removed anything.
    return { desktop, checkpoint, ...(tidied?.removed.length ? { removed: tidied.removed, bytesFreed: tidied.bytesFreed } : {}) };
  });
}

type Restored = { desktop: DesktopRecord; checkpoint: CheckpointRecord; restoreMs: number };

export async function restoreCheckpoint(id: unknown, input: unknown): Promise<Result<Restored>> {
  const parsedId = (await schemas()).checkpointId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'checkpoint id');
  const parsed = (await schemas()).restoreOptions.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  return attempt(() => getEngine().desktops.restore(parsedId.data, parsed.data));
}

/** N new desktops from one checkpoint (201 with the clones; those that failed are listed, the others run). */
export async function cloneCheckpoint(id: unknown, input: unknown): Promise<Result<{ checkpoint: string; desktops: DesktopView[]; failed: Cloned['failed']; ms: number }>> {
  const parsedId = (await schemas()).checkpointId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'checkpoint id');
  const parsed = (await schemas()).cloneOptions.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  return attempt(async () => {
    const cloned = await getEngine().desktops.clone(parsedId.data, parsed.data);
    // A list: the views, never the VNC passwords (the desktop page gets those, as for any desktop).
    return { checkpoint: cloned.checkpoint.id, desktops: cloned.desktops.map(desktopView), failed: cloned.failed, ms: cloned.ms };
  });
}

/** Restores a desktop: the checkpoint named, or else its newest complete one. */
export async function restoreDesktop(input: unknown): Promise<Result<Restored>> {
  const parsed = (await schemas()).restoreInput.safeParse(input);
  if (!parsed.success) return invalid(parsed.error);
  const { desktopId: desktop, checkpointId: named, stopRunning, lazy } = parsed.data;
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
  return attempt(async () => {
    const { desktops } = getEngine();
    await desktops.get(parsed.data); // see checkpointDesktop
    return { desktop: await desktops.stop(parsed.data) };
  });
}

export async function getCheckpoint(id: unknown): Promise<Result<{ checkpoint: CheckpointDetail }>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  return attempt(async () => ({ checkpoint: await checkpointDetail(getEngine(), parsed.data) }));
}

/** Deletes a checkpoint's images and record (refused while its desktop is busy); says how much space it freed. */
export async function deleteCheckpoint(id: unknown): Promise<Result<{ checkpoint: string; bytesFreed: number }>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  return attempt(() => getEngine().desktops.deleteCheckpoint(parsed.data));
}

/** The process tree, files, sockets and memory the checkpoint's images hold. */
export async function inspectCheckpoint(id: unknown): Promise<Result<Inspection>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  return attempt(() => getEngine().desktops.inspect(parsed.data));
}

/** The PNG of the screen taken just before the dump; not_found when that checkpoint has none. */
export async function checkpointThumbnail(id: unknown): Promise<Result<{ file: string }>> {
  const parsed = (await schemas()).checkpointId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'checkpoint id');
  return attempt(async () => {
    const { desktops } = getEngine();
    const checkpoint = await desktops.getCheckpoint(parsed.data);
    const file = desktops.paths.checkpointThumbnail(checkpoint.id);
    const present = checkpoint.thumbnail && (await access(file).then(() => true, () => false));
    if (!present) throw new FreezeframeError('not_found', `checkpoint ${checkpoint.id} has no thumbnail`);
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
  return attempt(async () => {
    const { desktop, removed, bytesFreed } = await getEngine().desktops.setRetention(parsedId.data, {
      keepLast: parsed.data.keepLast ?? undefined, maxBytes: parsed.data.maxBytes ?? undefined,
    });
    return { desktop, removed, bytesFreed };
  });
}

/** Pins (or unpins) a checkpoint: the retention policy never removes a pinned one. */
export async function pinCheckpoint(id: unknown, input: unknown): Promise<Result<{ checkpoint: CheckpointRecord }>> {
  const parsedId = (await schemas()).checkpointId.safeParse(id);
  if (!parsedId.success) return invalid(parsedId.error, 'checkpoint id');
  const parsed = (await schemas()).pinInput.safeParse(input ?? {});
  if (!parsed.success) return invalid(parsed.error);
  return attempt(() => getEngine().desktops.pin(parsedId.data, parsed.data.pinned));
}

/** Removes a stopped desktop with its checkpoints, freeing its disk and display; says how many bytes. */
export async function removeDesktop(id: unknown): Promise<Result<{ desktop: string; checkpoints: string[]; bytesFreed: number; display: number }>> {
  const parsed = (await schemas()).desktopId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'desktop id');
  return attempt(() => getEngine().desktops.remove(parsed.data));
}

export async function getStorage(): Promise<Result<{ storage: StorageView }>> {
  return attempt(async () => ({ storage: await storageView(getEngine()) }));
}
