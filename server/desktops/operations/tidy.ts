// After each checkpoint (and when a policy changes): the desktop's new checkpoints share their pages with a base,
// then its retention policy removes what it says; images no checkpoint reads any more go. Under the desktop's lock,
// as 'tidy', which a restore in this process waits for rather than being refused (lock.ts).
import { checkpointsToRemove } from '../../../lib/retention';
import { collectBases, diskBytes, referencedBases, removeCheckpointFiles } from '../../storage/checkpointFiles';
import { baseOf, recoverImages, shareWithBase } from '../../storage/dedup';
import type { CheckpointRecord, DesktopRecord } from '../records';
import type { OperationContext } from './context';

export interface Tidied {
  /** Checkpoints that now share pages with a base (and the base). */
  shared: { checkpoint: string; base: string; bytesBefore: number; bytesAfter: number }[];
  removed: string[];
  bytesFreed: number;
}

/** The checkpoint a frozen desktop needs to come back: never removed. */
export const frozenAt = (desktop: DesktopRecord) => (desktop.state === 'checkpointed' || desktop.state === 'restoring' ? desktop.lastCheckpoint : undefined);

/** Shares the pages of the desktop's complete checkpoints not yet looked at; each becomes a base if none fits. */
async function share(ctx: OperationContext, mine: CheckpointRecord[]): Promise<Tidied['shared']> {
  const { paths, store } = ctx;
  const shared: Tidied['shared'] = [];
  for (const checkpoint of mine) {
    if (checkpoint.state !== 'complete' || checkpoint.storedBytes !== undefined) continue;
    const images = paths.checkpointImages(checkpoint.id);
    await recoverImages(images);
    // The newest whole one before it: the likeliest to hold the same pages.
    const base = mine.filter((c) => c.createdAt < checkpoint.createdAt && c.state === 'complete' && c.storedBytes !== undefined && !c.base).at(-1);
    const result = ctx.config.sharePages && base && !(await baseOf(images)) ? await shareWithBase(images, base.id) : undefined;
    if (result?.shared) {
      checkpoint.base = base!.id;
      shared.push({ checkpoint: checkpoint.id, base: base!.id, bytesBefore: result.before, bytesAfter: result.after });
    }
    checkpoint.storedBytes = await diskBytes(paths.checkpointDir(checkpoint.id));
    await store.saveCheckpoint(checkpoint);
    ctx.emit({ type: 'changed', desktop: await store.load(checkpoint.desktop), checkpoint });
  }
  return shared;
}

/** Shares pages and applies the retention policy of desktop id; its lock must be held. */
export async function tidyLocked(ctx: OperationContext, id: string): Promise<Tidied> {
  const { paths, store } = ctx;
  const desktop = await store.load(id);
  const mine = await store.checkpoints(id);
  const shared = await share(ctx, mine);
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
