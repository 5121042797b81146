// The source's side of a move's end: the desktop runs on another host now, so this host forgets its live state
// (its namespace and overlay home freed, its record stopped and saying where it went).
import { FreezeframeError } from '../../errors';
import type { DesktopRecord } from '../records';
import { isContained, roomOf } from '../rooms';
import type { OperationContext } from './context';

/**
 * Only the frozen desktop the move dumped (state checkpointed at that very checkpoint): anything else means it was
 * restored or stopped meanwhile, and this host keeps it. The images stay (the caller removes them once confirmed).
 */
export async function forgetMoved(ctx: OperationContext, id: string, host: string, checkpointId: string): Promise<DesktopRecord> {
  const { store, deps, paths } = ctx;
  return ctx.locks.run(id, 'move', async () => {
    const record = await store.load(id);
    if (record.state !== 'checkpointed' || record.lastCheckpoint !== checkpointId) {
      throw new FreezeframeError('bad_state', `desktop ${id} is ${record.state} at ${record.lastCheckpoint ?? 'no checkpoint'}, not frozen at ${checkpointId}: it changed during its move`);
    }
    if (isContained(record)) {
      const room = roomOf(paths, id);
      // The kept namespace held the viewers' connections for a restore here; they will not come back.
      await deps.rooms.deleteNetns(room.netns).catch(() => {});
      await deps.rooms.unmountHome(room).catch(() => {});
    }
    await store.setState(record, 'stopped', { pid: undefined, pidStartTime: undefined, moving: undefined, movedTo: { host, at: deps.clock.now(), checkpoint: checkpointId } });
    ctx.emit({ type: 'moved', desktop: record });
    return record;
  });
}

/**
 * Marks the frozen desktop as moving to host (set: the archive is about to leave), or not any more (undefined: the
 * move failed, and it is restored here). Only while it is frozen at that checkpoint.
 */
export async function markMoving(ctx: OperationContext, id: string, checkpointId: string, host: string | undefined): Promise<DesktopRecord> {
  const { store, deps } = ctx;
  return ctx.locks.run(id, 'move', async () => {
    const record = await store.load(id);
    if (record.state !== 'checkpointed' || record.lastCheckpoint !== checkpointId) {
      throw new FreezeframeError('bad_state', `desktop ${id} is ${record.state} at ${record.lastCheckpoint ?? 'no checkpoint'}, not frozen at ${checkpointId}: it changed during its move`);
    }
    record.moving = host ? { host, at: deps.clock.now(), checkpoint: checkpointId } : undefined;
    return store.save(record);
  });
}

/** A moved desktop's overlay home, unmounted once nothing holds it (a post-copy move's frozen tree kept it busy). */
export async function releaseMovedRoom(ctx: OperationContext, id: string): Promise<void> {
  const record = await ctx.store.load(id);
  if (record.movedTo && isContained(record)) await ctx.deps.rooms.unmountHome(roomOf(ctx.paths, id));
}
