// A desktop's retention policy set (and applied at once), a checkpoint pinned or unpinned.
import type { RetentionPolicy } from '../../../lib/retention';
import type { CheckpointRecord, DesktopRecord } from '../records';
import type { OperationContext } from './context';
import { tidyLocked, type Tidied } from './tidy';

/** Sets the policy (undefined fields: no such limit) and applies it now; what it removed is in the answer. */
export async function setRetention(ctx: OperationContext, id: string, policy: RetentionPolicy): Promise<{ desktop: DesktopRecord } & Tidied> {
  await ctx.store.load(id); // an unknown id is "not found", before any lock is taken for it
  return ctx.locks.run(id, 'retention', async () => {
    const record = await ctx.store.load(id);
    const retention = { keepLast: policy.keepLast, maxBytes: policy.maxBytes };
    await ctx.store.save(Object.assign(record, { retention: retention.keepLast === undefined && retention.maxBytes === undefined ? undefined : retention }));
    ctx.emit({ type: 'changed', desktop: record });
    const tidied = await tidyLocked(ctx, id);
    return { desktop: await ctx.store.load(id), ...tidied };
  });
}

/** A pinned checkpoint is never removed by the retention policy (a delete still removes it). */
export async function pinCheckpoint(ctx: OperationContext, checkpointId: string, pinned: boolean): Promise<{ checkpoint: CheckpointRecord }> {
  const { desktop } = await ctx.store.getCheckpoint(checkpointId);
  return ctx.locks.run(desktop, 'pin', async () => {
    const checkpoint = await ctx.store.getCheckpoint(checkpointId);
    checkpoint.pinned = pinned || undefined;
    await ctx.store.saveCheckpoint(checkpoint);
    ctx.emit({ type: 'changed', desktop: await ctx.store.load(desktop), checkpoint });
    return { checkpoint };
  });
}
