// Cloning a checkpoint: N new desktops restored from one contained desktop's images at once, each in a room of its
// own (a fresh network namespace, an overlay home over the checkpoint's home-base, its own run folder and /tmp).
import { copyFile, mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { toErrorInfo } from '../../errorInfo';
import { FreezeframeError } from '../../errors';
import { containedRestoreOptions } from '../../sandbox/criuFlags';
import { inside } from '../../sandbox/layout';
import { vncPasswordFile } from '../../vnc/vncAuth';
import { newId } from '../../../lib/ids';
import type { CriuOptions } from '../../criu/options';
import type { CheckpointRecord, DesktopRecord } from '../records';
import { roomOf } from '../rooms';
import type { OperationContext } from './context';
import { killTree } from './halt';
import { noteCriu } from './seal';

export interface CloneOptions {
  /** How many desktops (1-16: each one is a whole desktop's memory; 8 Writer clones fit 2 cores, see README). */
  count?: number;
}

export const maxClones = 16;

export interface Cloned {
  checkpoint: CheckpointRecord;
  desktops: DesktopRecord[];
  /** Clones that failed, each with its reason; the others run (none is undone for another's failure). */
  failed: { desktop: string; error: ReturnType<typeof toErrorInfo> }[];
  ms: number;
}

async function restoreClone(ctx: OperationContext, checkpoint: CheckpointRecord, id: string): Promise<DesktopRecord> {
  const { paths, store, deps, config } = ctx;
  const spec = checkpoint.desktopSpec!;
  const room = roomOf(paths, id);
  // Clones run as the checkpoint's desktop user: criu restores credentials as dumped (docs/self-contained.md).
  const { uid, gid } = ctx.user();
  const now = deps.clock.now();
  const record: DesktopRecord = {
    id, kind: 'contained', homeBase: checkpoint.id, display: inside.display, vncPort: inside.vncPort,
    geometry: spec.geometry, apps: spec.apps,
    // Xvnc's passwords are in its dumped memory: a clone answers to the checkpoint's (the run folder's file too).
    vncPassword: spec.vncPassword, vncViewPassword: spec.vncViewPassword, uid, gid,
    state: 'restoring', createdAt: now, updatedAt: now,
    lastOperation: { kind: 'restore', checkpoint: checkpoint.id, startedAt: now },
  };
  await mkdir(room.dir, { recursive: true, mode: 0o700 });
  return ctx.locks.run(id, 'restore', async () => {
    await store.save(record);
    try {
      await Promise.all([
        deps.rooms.prepare(room, vncPasswordFile(spec.vncPassword, spec.vncViewPassword), { uid, gid }, { home: false })
          // criu reopens the log by path and checks its size: the log as it was at the dump.
          .then(() => copyFile(paths.checkpointDesktopLog(checkpoint.id), room.log)),
        deps.rooms.createNetns(room.netns),
        deps.rooms.mountHome(paths.checkpointHomeBase(checkpoint.id), room),
      ]);
      // criu restores as root what the images say: checked against this clone's own folders.
      await deps.trustImages(paths.checkpointImages(checkpoint.id), checkpoint.id, {
        uid, gid, home: inside.home, log: inside.log, contained: { hostHome: room.home, hidden: [paths.stateDir], appDir: ctx.config.rootDir },
      });
      const pidfile = path.join(room.dir, 'restore.pid');
      const criuOptions: CriuOptions = {
        imagesDir: paths.checkpointImages(checkpoint.id),
        logFile: path.join(room.dir, 'restore.log'),
        logLevel: config.criuLogLevel,
        fileLocks: true,
        root: '/',
        restoreDetached: true,
        pidfile,
        // A fresh namespace: the connections of the images are restored closed, and there is no lock to remove.
        ...containedRestoreOptions({ homeDir: room.home, runDir: room.run }, false),
      };
      const netns = await open(room.netnsPath, 'r');
      const result = await deps.criu('restore', criuOptions, (pid) => noteCriu(ctx, record, pid), [netns.fd]).finally(() => netns.close());
      const pid = Number((await readFile(pidfile, 'utf8')).trim());
      const identity = await deps.processes.identify(pid);
      if (!identity) throw new FreezeframeError('gone', `criu restored clone ${id} but its root ${pid} is not alive`);
      deps.processes.adoptRoot(identity);
      await store.setState(record, 'running', {
        pid, pidStartTime: identity.startTime, lastCheckpoint: checkpoint.id,
        lastOperation: { ...record.lastOperation!, ms: result.durationMs, ok: true, command: result.command, verdict: result.lastLine },
      });
      ctx.emit({ type: 'started', desktop: record });
      return record;
    } catch (error) {
      const info = toErrorInfo(error);
      if (record.pid) await killTree(ctx, record);
      await deps.rooms.deleteNetns(room.netns).catch(() => {});
      await deps.rooms.unmountHome(room).catch(() => {});
      await store.setState(record, 'failed', { lastError: { ...info, logPath: path.join(room.dir, 'restore.log') }, lastOperation: { ...record.lastOperation!, ok: false } });
      ctx.emit({ type: 'failed', desktop: record, checkpoint, operation: 'restore', error: info });
      throw error;
    }
  });
}

export async function cloneCheckpoint(ctx: OperationContext, checkpointId: string, { count = 1 }: CloneOptions = {}): Promise<Cloned> {
  if (!Number.isInteger(count) || count < 1 || count > maxClones) throw new FreezeframeError('invalid', `count must be 1 to ${maxClones}, not ${count}`);
  // A checkpoint just made may still have its home copied (its follow-up, in this process): waited for.
  await ctx.locks.settled((await ctx.store.getCheckpoint(checkpointId)).desktop);
  const checkpoint = await ctx.store.getCheckpoint(checkpointId);
  if (checkpoint.state !== 'complete') {
    throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is ${checkpoint.state}, not complete: it cannot be cloned`);
  }
  if (checkpoint.desktopSpec?.kind !== 'contained' || !checkpoint.homeBase) {
    throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is of a desktop on the host's display: only a self-contained desktop's checkpoint can be cloned`);
  }
  const t0 = performance.now();
  const ids = Array.from({ length: count }, () => newId('d'));
  // All at once: criu restores are CPU-bound, and measured up to 8 at once on 2 cores (docs/self-contained.md).
  const results = await Promise.allSettled(ids.map((id) => restoreClone(ctx, checkpoint, id)));
  const desktops = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ desktop: ids[i], error: toErrorInfo(r.reason) }] : []));
  if (!desktops.length) {
    throw new FreezeframeError('criu', `no clone of checkpoint ${checkpointId} started: ${failed[0].error.message}`, { error: failed[0].error, failed });
  }
  return { checkpoint, desktops, failed, ms: performance.now() - t0 };
}
