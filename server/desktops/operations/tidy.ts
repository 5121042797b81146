// After each checkpoint (and when a policy changes): the desktop's older checkpoints share their pages with a base
// (its newest stays whole) and keep the rest gzipped, logs no one writes any more are packed, then its retention
// policy removes what it says; images no checkpoint reads any more go. Under the desktop's lock, as 'tidy', which a
// restore in this process waits for rather than being refused (lock.ts); the page work stops for such a restore.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { checkpointsToRemove } from '../../../lib/retention';
import { collectBases, diskBytes, referencedBases, removeCheckpointFiles } from '../../storage/checkpointFiles';
import { baseOf, recoverImages, shareWithBase, unshare } from '../../storage/dedup';
import { compressLog, trimLiveLog } from '../../storage/logs';
import { packPages, unpackPages } from '../../storage/packedPages';
import { linkUnchanged } from '../../storage/homeBase';
import { restoreWaits, unlessRead } from '../../storage/readers';
import type { CheckpointRecord, DesktopRecord } from '../records';
import { isContained, roomOf } from '../rooms';
import type { OperationContext } from './context';

export interface Tidied {
  /** Checkpoints that now share pages with a base (and the base). */
  shared: { checkpoint: string; base: string; bytesBefore: number; bytesAfter: number }[];
  removed: string[];
  bytesFreed: number;
}

/** The checkpoint a frozen desktop needs to come back: never removed. */
export const frozenAt = (desktop: DesktopRecord) => (desktop.state === 'checkpointed' || desktop.state === 'restoring' ? desktop.lastCheckpoint : undefined);

/** Checkpoints whose sharing stopped once for a restore (this process): the next one is not stopped. */
const deferred = new Set<string>();

/**
 * Shares the pages of the desktop's complete checkpoints not yet looked at, but for its newest, which stays whole
 * until a newer one exists: a restore of the newest reads one folder, criu's own images. Measured
 * (bench/results/storage.md): a shared checkpoint restores 1.2-1.35x slower, as criu reads its parent too. One that
 * finds no base (or not enough in common with it) stays whole and becomes the base of the next ones.
 */
async function share(ctx: OperationContext, desktop: DesktopRecord, mine: CheckpointRecord[]): Promise<Tidied['shared']> {
  const { paths, store } = ctx;
  const shared: Tidied['shared'] = [];
  const complete = mine.filter((c) => c.state === 'complete');
  const newest = complete.at(-1);
  if (newest && desktop.fetching?.checkpoint !== newest.id) await wholeAgain(ctx, desktop, newest);
  for (const checkpoint of complete) {
    const measured = checkpoint.storedBytes !== undefined;
    if (measured && !checkpoint.shareLater) continue;
    // A restore waiting for this lock: not even started (see below).
    if (measured && checkpoint !== newest && !deferred.has(checkpoint.id) && restoreWaits(desktop.id)) {
      deferred.add(checkpoint.id);
      continue;
    }
    // A new checkpoint's home copy: the files the previous copy has unchanged become links to them.
    const previous = checkpoint.homeBase && !measured ? complete.filter((c) => c.createdAt < checkpoint.createdAt && c.homeBase).at(-1) : undefined;
    if (previous) await linkUnchanged(paths.checkpointHomeBase(checkpoint.id), paths.checkpointHomeBase(previous.id)).catch(() => undefined);
    const images = paths.checkpointImages(checkpoint.id);
    await recoverImages(images);
    // Shared already: a server that died between the swap and the record (dedup.ts recoverImages finished it).
    const linked = await baseOf(images);
    if (linked) checkpoint.base = linked;
    else if (measured && checkpoint === newest) continue;
    if (ctx.config.sharePages && checkpoint !== newest && !linked) {
      // A lazy restore's daemon reads these images still: tried again at the next tidying.
      if (desktop.fetching?.checkpoint === checkpoint.id) continue;
      // The newest whole one before it that stays whole: the likeliest to hold the same pages.
      const base = complete.filter((c) => c.createdAt < checkpoint.createdAt && c.storedBytes !== undefined && !c.base && !c.shareLater).at(-1);
      if (base) {
        // A clone being restored from it (not under this lock) reads it: tried again at the next tidying. A
        // restore waiting for this lock: the sharing stops for it (once per checkpoint: a desktop restored right
        // after each checkpoint still gets its pages shared, that restore waiting ~0.1-0.3 s).
        const yieldTo = deferred.has(checkpoint.id) ? undefined : () => restoreWaits(desktop.id);
        const result = await unlessRead(checkpoint.id, () => shareWithBase(images, base.id, { yieldTo }));
        if (!result) continue;
        if (result.yielded) {
          deferred.add(checkpoint.id);
          if (deferred.size > 1024) deferred.delete(deferred.values().next().value!);
          continue;
        }
        deferred.delete(checkpoint.id);
        if (result.shared) {
          checkpoint.base = base.id;
          shared.push({ checkpoint: checkpoint.id, base: base.id, bytesBefore: result.before, bytesAfter: result.after });
        }
      }
      delete checkpoint.shareLater;
    } else if (ctx.config.sharePages && checkpoint === newest && !checkpoint.base) {
      checkpoint.shareLater = true;
    } else {
      delete checkpoint.shareLater;
    }
    checkpoint.storedBytes = await diskBytes(paths.checkpointDir(checkpoint.id));
    await store.saveCheckpoint(checkpoint);
    ctx.emit({ type: 'changed', desktop, checkpoint });
  }
  return shared;
}

/**
 * A shared checkpoint that is its desktop's newest (those after it deleted, or a crash between a sharing's swap and
 * its record) made whole again: the newest restores from criu's own images.
 */
async function wholeAgain(ctx: OperationContext, desktop: DesktopRecord, checkpoint: CheckpointRecord): Promise<void> {
  const images = ctx.paths.checkpointImages(checkpoint.id);
  await recoverImages(images);
  if (!(await baseOf(images))) {
    // Made whole already: a server that died between the swap and the record.
    if (checkpoint.base) {
      delete checkpoint.base;
      checkpoint.shareLater = true;
      await ctx.store.saveCheckpoint(checkpoint);
    }
    return;
  }
  const done = await unlessRead(checkpoint.id, async () => {
    await unpackPages(images);
    await unshare(images);
    return true;
  });
  if (!done) return;
  delete checkpoint.base;
  checkpoint.shareLater = true;
  checkpoint.storedBytes = await diskBytes(ctx.paths.checkpointDir(checkpoint.id));
  await ctx.store.saveCheckpoint(checkpoint);
  ctx.emit({ type: 'changed', desktop, checkpoint });
}

/**
 * The pages files of the desktop's shared checkpoints but its newest gzipped (storage/packedPages.ts), again after
 * a restore or an export put them back; not while a lazy restore's daemon or a clone reads them.
 */
async function pack(ctx: OperationContext, desktop: DesktopRecord, mine: CheckpointRecord[]): Promise<void> {
  const complete = mine.filter((c) => c.state === 'complete');
  const newest = complete.at(-1);
  for (const checkpoint of complete) {
    if (restoreWaits(desktop.id)) return;
    if (!checkpoint.base || checkpoint === newest || desktop.fetching?.checkpoint === checkpoint.id) continue;
    const images = ctx.paths.checkpointImages(checkpoint.id);
    if (!(await readdir(images).catch(() => [] as string[])).some((n) => /^pages-\d+\.img$/.test(n))) continue;
    if ((await unlessRead(checkpoint.id, () => packPages(images))) === undefined) continue;
    checkpoint.storedBytes = await diskBytes(ctx.paths.checkpointDir(checkpoint.id));
    await ctx.store.saveCheckpoint(checkpoint);
  }
}

const finishedLog = /^(dump|restore-\d+(-pages)?)\.log$/;

/**
 * criu's logs of the desktop's checkpoints gzipped (dump.log once sealed, each restore's once it is over: under
 * this lock no restore of the desktop runs; a failure's stay plain) and pidfiles of past restores removed; then the
 * desktop's own log's head freed (storage/logs.ts). Their folders' sizes are measured again.
 */
async function packLogs(ctx: OperationContext, desktop: DesktopRecord, mine: CheckpointRecord[]): Promise<void> {
  const { paths, store } = ctx;
  for (const checkpoint of mine) {
    if (restoreWaits(desktop.id)) return;
    const dir = paths.checkpointDir(checkpoint.id);
    const names = await readdir(dir).catch(() => [] as string[]);
    // A lazy restore's daemon may write its log still.
    const lazyLog = desktop.fetching?.checkpoint === checkpoint.id ? path.basename(desktop.fetching.logPath) : undefined;
    // Only the logs of what went well: a failed dump's or restore's log is named in its error (lastError.logPath),
    // which an operator opens as it is.
    const wentWell = (n: string) => {
      const restore = /^restore-(\d+)(-pages)?\.log$/.exec(n);
      if (!restore) return checkpoint.state === 'complete';
      const info = checkpoint.restores[Number(restore[1]) - 1];
      return !!info?.ok && (!restore[2] || !!info.lazy?.ok);
    };
    // A lazy dump (a post-copy move's source) writes its dump.log until every page is served, and reads it then
    // to know it ended as served (criu/lazyDump.ts): its recorded command says --lazy-pages.
    const serving = checkpoint.command?.includes('--lazy-pages') ?? false;
    const packable = names.filter((n) => finishedLog.test(n) && n !== lazyLog && !(serving && n === 'dump.log') && wentWell(n));
    const pidfile = names.includes(path.basename(paths.checkpointPidfile(checkpoint.id)));
    if (!packable.length && !pidfile) continue;
    for (const name of packable) await compressLog(path.join(dir, name));
    if (pidfile) await rm(paths.checkpointPidfile(checkpoint.id), { force: true });
    if (checkpoint.storedBytes === undefined) continue;
    checkpoint.storedBytes = await diskBytes(dir);
    await store.saveCheckpoint(checkpoint);
  }
  await trimLiveLog(isContained(desktop) ? roomOf(paths, desktop.id).log : paths.desktopLog(desktop.id)).catch(() => 0);
}

/** Shares pages and applies the retention policy of desktop id; its lock must be held. */
export async function tidyLocked(ctx: OperationContext, id: string): Promise<Tidied> {
  const { paths, store } = ctx;
  const desktop = await store.load(id);
  const mine = await store.checkpoints(id);
  const shared = await share(ctx, desktop, mine);
  await pack(ctx, desktop, mine);
  await packLogs(ctx, desktop, mine);
  // ...nor the one a lazy restore still reads pages from.
  const keep = new Set([frozenAt(desktop), desktop.fetching?.checkpoint].filter((c): c is string => !!c));
  const candidates = mine.map((c) => ({ id: c.id, createdAt: c.createdAt, state: c.state, pinned: c.pinned, base: c.base, bytes: c.storedBytes ?? c.imageBytes ?? 0 }));
  const removed = checkpointsToRemove(candidates, desktop.retention, keep);
  let bytesFreed = 0;
  if (removed.length) {
    const referenced = await referencedBases(paths);
    for (const cp of removed) bytesFreed += await removeCheckpointFiles(paths, cp, referenced);
  }
  bytesFreed += await collectBases(paths);
  if (removed.length) ctx.emit({ type: 'pruned', desktop, removed, bytesFreed });
  return { shared, removed, bytesFreed };
}

export function tidyDesktop(ctx: OperationContext, id: string): Promise<Tidied> {
  return ctx.locks.run(id, 'tidy', () => tidyLocked(ctx, id));
}
