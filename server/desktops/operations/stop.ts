// Stopping a desktop: its tree ended, its display released; its checkpoints stay.
import type { DesktopRecord } from '../records';
import type { OperationContext } from './context';
import { stopLocked } from './halt';
import { reconcileLocked } from './reconcile';

export async function stopDesktop(ctx: OperationContext, id: string): Promise<DesktopRecord> {
  await ctx.store.load(id); // an unknown id is "not found", before any lock is taken for it
  return ctx.locks.run(id, 'stop', async () => stopLocked(ctx, await reconcileLocked(ctx, await ctx.store.load(id))));
}
