// Removing a stopped desktop for good: its checkpoints, its folder (home, logs, VNC password) and its display.
import { readFile, rm, unlink } from 'node:fs/promises';
import { FreezeframeError } from '../../errors';
import { collectBases, diskBytes, referencedBases, removeCheckpointFiles } from '../../storage/checkpointFiles';
import type { OperationContext } from './context';
import { reconcileLocked } from './reconcile';

export interface Removed {
  desktop: string;
  checkpoints: string[];
  bytesFreed: number;
  display: number;
}

export async function removeDesktop(ctx: OperationContext, id: string): Promise<Removed> {
  const { paths, store } = ctx;
  await store.load(id); // an unknown id is "not found", before any lock is taken for it
  return ctx.locks.run(id, 'remove', async () => {
    const record = await reconcileLocked(ctx, await store.load(id));
    if (record.state !== 'stopped') {
      throw new FreezeframeError('bad_state', `desktop ${id} is ${record.state}: only a stopped desktop can be removed (stop it first)`, { state: record.state });
    }
    // A folder something is still mounted on (a kept namespace, an overlay home) is not ours to delete through.
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4]).filter((m) => m && (m === paths.desktopDir(id) || m.startsWith(`${paths.desktopDir(id)}/`)));
    if (mounts.length) throw new FreezeframeError('bad_state', `desktop ${id} still has ${mounts[0]} mounted: stop it again, then remove it`);
    // Its checkpoints first, each record first: a crash half-way leaves the desktop with fewer checkpoints, and
    // removing it again finishes the work.
    const checkpoints = (await store.checkpoints(id)).map((c) => c.id);
    const referenced = await referencedBases(paths);
    let bytesFreed = 0;
    for (const cp of checkpoints) bytesFreed += await removeCheckpointFiles(paths, cp, referenced);
    bytesFreed += await collectBases(paths);
    bytesFreed += await diskBytes(paths.desktopDir(id));
    await unlink(paths.desktopRecord(id));
    await rm(paths.desktopDir(id), { recursive: true, force: true });
    await ctx.displays.release(record.display, id);
    // Its uid is free again once no clone of its checkpoints runs as it either.
    if (record.ownUser) await ctx.uids.release(record.uid, id);
    ctx.emit({ type: 'removed', desktop: record, removed: checkpoints, bytesFreed });
    return { desktop: id, checkpoints, bytesFreed, display: record.display };
  });
}
