// Ending a desktop's tree, with its lock held: the kill itself, and a stop (its checkpoints stay).
import type { DesktopRecord } from '../records';
import type { ProcessIdentity } from '../processes';
import { canTransition, isLive } from '../../../lib/states';
import type { OperationContext } from './context';
import { isContained, restoreWorkerKey, roomOf } from '../rooms';
import { settlePages } from './pages';

/** Waits up to 5 s for the end of a tree that was told to end (by criu, or a SIGTERM); kills what is left then. */
export async function endOfTree(processes: OperationContext['deps']['processes'], tree: ProcessIdentity[]): Promise<ProcessIdentity[]> {
  const left = await processes.waitForExit(tree, 5_000);
  for (const { pid } of left) processes.signal(pid, 'SIGKILL');
  return left;
}

/** Sends SIGTERM to the tree's root (Xvnc then removes its lock), SIGKILL to what is left after 5 s. */
export async function killTree({ deps }: OperationContext, record: DesktopRecord): Promise<void> {
  if (!record.pid) return;
  const { processes } = deps;
  if (record.pidStartTime) processes.adoptRoot({ pid: record.pid, startTime: record.pidStartTime });
  const tree = await processes.treeIdentities(record.pid);
  if (!tree.length) return;
  processes.signal(record.pid, 'SIGTERM');
  // With PID 1 of the namespace gone, the kernel kills the rest.
  await processes.waitForExit(await endOfTree(processes, tree), 5_000);
}

/** Stops a desktop whose operation lock is held; its checkpoints stay. */
export async function stopLocked(ctx: OperationContext, record: DesktopRecord): Promise<DesktopRecord> {
  const { deps, store } = ctx;
  if (record.state === 'stopped') return record;
  // By its pid, not its state: a desktop recorded as failed may still have processes worth ending.
  const alive = await deps.processes.isAlive(record.pid ? { pid: record.pid, startTime: record.pidStartTime ?? '' } : undefined);
  if (isLive(record.state) || alive) {
    // Recorded and said before Xvnc dies, not after: a viewer that saw its connection drop first would take it
    // for a lost session and reconnect into the dying desktop (a 502); 'stopping' tells it the desktop is going.
    if (canTransition(record.state, 'stopping')) {
      await store.setState(record, 'stopping');
      ctx.emit({ type: 'stopping', desktop: record });
    }
    await killTree(ctx, record);
  }
  // A lazy restore's daemon ends with the tree it served; how it ended goes on record, the stop goes on.
  if (record.fetching) record = await settlePages(ctx, record).catch(() => record);
  if (isContained(record)) {
    // Its X lock and sockets died with its /tmp, criu's lock rules with its namespace (nothing on the host's).
    const room = roomOf(ctx.paths, record.id);
    // A criu worker started for its restore holds the namespace: let it go with the name.
    const inode = deps.forgetCriu ? await deps.rooms.netnsInode(room.netns) : undefined;
    if (inode !== undefined) deps.forgetCriu!(restoreWorkerKey(room.netnsPath, inode));
    await deps.rooms.deleteNetns(room.netns).catch(() => {});
    if (record.homeBase) await deps.rooms.unmountHome(room).catch(() => {});
  } else {
    await deps.cleanup.removeXLeftovers(record.display);
    await deps.cleanup.removeCriuRules(record.vncPort).catch(() => {});
    await ctx.displays.release(record.display, record.id);
  }
  await store.setState(record, 'stopped', { pid: undefined, pidStartTime: undefined, lastOperation: { kind: 'stop', startedAt: deps.clock.now(), ok: true } });
  ctx.emit({ type: 'stopped', desktop: record });
  return record;
}
