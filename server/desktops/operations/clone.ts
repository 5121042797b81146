// Cloning a checkpoint: N new desktops restored from one contained desktop's images at once, each in a room of its
// own (a fresh network namespace, an overlay home over the checkpoint's home-base, its own run folder and /tmp).
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { toErrorInfo } from '../../errorInfo';
import { FreezeframeError } from '../../errors';
import { containedRestoreOptions } from '../../sandbox/criuFlags';
import { inside } from '../../sandbox/layout';
import { vncPasswordFile } from '../../vnc/vncAuth';
import { newId } from '../../../lib/ids';
import type { CriuOptions } from '../../criu/options';
import type { CheckpointRecord, DesktopRecord } from '../records';
import { ownPasswd, roomOf } from '../rooms';
import { idsOf, type OperationContext } from './context';
import type { OwnIds } from '../uids';
import { killTree } from './halt';
import { noteCriu } from './seal';
import { copyLogTail } from '../../storage/logs';
import { whileReading } from '../../storage/readers';
import { unpackPages } from '../../storage/packedPages';

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

/** What every clone of one request shares: the checkpoint, its ids, and the one trust check of its images. */
interface CloneSource {
  checkpoint: CheckpointRecord;
  ids: OwnIds;
  ownUser: boolean;
  /** Settles once the images are checked; a clone's criu waits for it, never runs without it. */
  trusted: Promise<void>;
}

async function restoreClone(ctx: OperationContext, { checkpoint, ids: { uid, gid }, ownUser, trusted }: CloneSource, id: string): Promise<DesktopRecord> {
  const { paths, store, deps, config } = ctx;
  const spec = checkpoint.desktopSpec!;
  const room = roomOf(paths, id);
  if (ownUser) await ctx.uids.join(uid, id);
  const now = deps.clock.now();
  const record: DesktopRecord = {
    id, kind: 'contained', homeBase: checkpoint.id, display: inside.display, vncPort: inside.vncPort,
    geometry: spec.geometry, apps: spec.apps,
    // Xvnc's passwords are in its dumped memory: a clone answers to the checkpoint's (the run folder's file too).
    vncPassword: spec.vncPassword, vncViewPassword: spec.vncViewPassword, uid, gid, ...(ownUser ? { ownUser } : {}),
    state: 'restoring', createdAt: now, updatedAt: now,
    lastOperation: { kind: 'restore', checkpoint: checkpoint.id, startedAt: now },
  };
  await mkdir(room.dir, { recursive: true, mode: 0o700 });
  return ctx.locks.run(id, 'restore', async () => {
    await store.save(record);
    try {
      await Promise.all([
        deps.rooms.prepare(room, vncPasswordFile(spec.vncPassword, spec.vncViewPassword), { uid, gid }, { home: false, ownUser })
          // criu reopens the log by path and checks its size: the log as it was at the dump.
          .then(() => copyLogTail(paths.checkpointDesktopLog(checkpoint.id), room.log)),
        deps.rooms.createNetns(room.netns),
        deps.rooms.mountHome(paths.checkpointHomeBase(checkpoint.id), room),
      ]);
      await trusted;
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
        ...containedRestoreOptions({ homeDir: room.home, runDir: room.run, ...ownPasswd(record, room) }, false),
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
  const spec = checkpoint.desktopSpec;
  // Clones run as the checkpoint's ids: criu restores credentials as dumped (docs/self-contained.md). A checkpoint
  // of a desktop with a uid of its own: that uid (while its desktop holds it), which each clone claims too
  // (released when it is removed); they are kept apart by their own PID, mount and network namespaces.
  // Its images stay as they are meanwhile, from the trust check on (the source desktop's tidying may share the
  // pages of older checkpoints: storage/readers.ts).
  const results = await whileReading(checkpoint.id, async () => {
    await unpackPages(ctx.paths.checkpointImages(checkpoint.id));
    const own = await idsOf(ctx, { ...spec, id: checkpoint.desktop });
    const source: CloneSource = {
      checkpoint, ids: own, ownUser: !!spec.ownUser && spec.uid === own.uid,
      // criu restores as root what the images say: checked once for every clone, while their rooms are made (the
      // check is synchronous CPU, the rooms mostly child processes: ip, mount). Files under /home/desktop are looked
      // up in the checkpoint's home-base, which is what each clone's fresh overlay shows there. Writer: 6-27 ms per
      // check (measured by hand, load 5-7), which 8 clones paid 8 times when each checked on its own.
      trusted: new Promise<void>((resolve) => setImmediate(resolve)).then(() => ctx.deps.trustImages(ctx.paths.checkpointImages(checkpoint.id), checkpoint.id, {
        ...own, home: inside.home, log: inside.log,
        contained: { hostHome: ctx.paths.checkpointHomeBase(checkpoint.id), hidden: [ctx.paths.stateDir], appDir: ctx.config.rootDir },
      })),
    };
    source.trusted.catch(() => {}); // each clone awaits it (and fails with its reason); a clone that fails before must not leave it unhandled
    // All at once: criu restores are CPU-bound, and measured up to 8 at once on 2 cores (docs/self-contained.md).
    return Promise.allSettled(ids.map((id) => restoreClone(ctx, source, id)));
  });
  const desktops = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ desktop: ids[i], error: toErrorInfo(r.reason) }] : []));
  if (!desktops.length) {
    throw new FreezeframeError('criu', `no clone of checkpoint ${checkpointId} started: ${failed[0].error.message}`, { error: failed[0].error, failed });
  }
  return { checkpoint, desktops, failed, ms: performance.now() - t0 };
}
