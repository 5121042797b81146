// Restoring a checkpoint: criu restore of its images, the desktop running again (its viewers' connections kept
// when it comes back from the very checkpoint it froze at).
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CriuError } from '../../criu/errors';
import { readStats } from '../../criu/images';
import { criuArgs, type CriuOptions } from '../../criu/options';
import { toErrorInfo } from '../../errorInfo';
import { FreezeframeError } from '../../errors';
import type { CheckpointRecord, DesktopRecord, RestoreInfo } from '../records';
import type { Expected } from '../../criu/trustRules';
import { readLaunchMounts } from '../launchMounts';
import { idsOf, type OperationContext } from './context';
import { stopLocked } from './halt';
import { reconcileLocked } from './reconcile';
import { noteCriu } from './seal';
import { isContained, ownPasswd, restoreWorkerKey, roomOf } from '../rooms';
import { containedRestoreOptions } from '../../sandbox/criuFlags';
import { inside } from '../../sandbox/layout';
import { chooseLazy, type LazyMode } from '../../../lib/lazy';
import type { LazyDaemon } from '../../criu/lazyPages';
import { watchPages } from './pages';
import { trace } from '../../trace';
import { copyLogTail } from '../../storage/logs';
import { unpackPages } from '../../storage/packedPages';
import { restoreComing } from '../../storage/readers';
import { hasLazyPages } from '../../storage/pagemap';

export interface RestoreOptions {
  /** Stop the desktop first if it is running (the user confirmed); otherwise a running desktop is refused. */
  stopRunning?: boolean;
  /** criu restore --lazy-pages (the memory sent after the tree resumes): true, false, or 'auto' by image size. */
  lazy?: LazyMode;
  /**
   * A post-copy move: the lazy pages are fetched from the source's `criu dump --lazy-pages` page server at this
   * address and port (criu/lazyDump.ts), not read from the images; implies a lazy restore.
   */
  lazyFrom?: { address: string; port: number };
}

export type Restored = { desktop: DesktopRecord; checkpoint: CheckpointRecord; restoreMs: number };

export async function restoreCheckpoint(ctx: OperationContext, checkpointId: string, options: RestoreOptions = {}): Promise<Restored> {
  const { paths, store, deps, config } = ctx;
  // Read once to learn whose lock to take; read again under it: a restore that finished in between has added its
  // entry to restores (and numbered its log by them).
  const { desktop } = await store.getCheckpoint(checkpointId);
  const t = trace(`restore ${checkpointId}`);
  // A tidying under way (a checkpoint's follow-up, which this waits for) stops its page work for this restore.
  return restoreComing(desktop, () => ctx.locks.run(desktop, 'restore', async () => {
    t.step('load+lock');
    const [read, loaded] = await Promise.all([store.getCheckpoint(checkpointId), store.load(desktop)]);
    let checkpoint = read;
    let record = await reconcileLocked(ctx, loaded);
    t.step('reconcile');
    if (checkpoint.state !== 'complete') {
      throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is ${checkpoint.state}, not complete: it cannot be restored`);
    }
    // Auto: lazy for big images, unless criu could not premap them (asked for lazy, it is tried, and fails as criu
    // says). Their mappings are read while the trust check reads the rest.
    const mode = options.lazy ?? config.lazy;
    const bySize = chooseLazy(options.lazy, config.lazy, checkpoint.imageBytes, config.lazyMinBytes);
    const premapping = bySize && mode === 'auto' ? deps.premapFits(paths.checkpointImages(checkpointId)) : undefined;
    premapping?.catch(() => {});
    // A post-copy move's dump (its own, or one imported here) has no lazy page in its images: only from its source's
    // dump, never as if the images were whole (criu would read other pages in their place). Read beside the trust check.
    const lazyLeft = options.lazyFrom ? undefined : hasLazyPages(paths.checkpointImages(checkpointId)).catch(() => false);
    lazyLeft?.catch(() => {});
    // Before anything changes (a running desktop stopped, the log put back): criu restores as root what the
    // images say. The ids are the desktop's own uid's only while it holds that claim here, else this
    // installation's desktop user's: never merely what a record (an imported one) says.
    const { uid, gid } = await idsOf(ctx, record);
    const contained = isContained(record);
    const room = roomOf(paths, record.id);
    // Started before the pages are put back (the namespace's stat goes through libuv's pool meanwhile).
    const launchMounts = readLaunchMounts(paths.desktopLaunchMounts(record.id));
    launchMounts.catch(() => {});
    // A frozen contained desktop's kept namespace, by its inode (see keepConnections below).
    const keptInodeRead = contained && record.state === 'checkpointed' ? deps.rooms.netnsInode(room.netns) : undefined;
    // A clone's home is an overlay over its checkpoint's base copy (mounted again after a stop): the files the
    // images name are looked up there.
    if (contained && record.homeBase) await deps.rooms.mountHome(paths.checkpointHomeBase(record.homeBase), room);
    // An older shared checkpoint's pages are kept gzipped (storage/packedPages.ts): put back for criu, before the
    // trust check reads the images (a newest one has none: one failed readdir).
    await unpackPages(paths.checkpointImages(checkpointId));
    t.step('ids, unpack');
    // A contained desktop's images name only its inside paths; its files are looked up in its own folders, and
    // its mounts must be exactly the set newns builds.
    const expected: Expected = contained
      ? {
          uid, gid, home: inside.home, log: inside.log, contained: { hostHome: room.home, hidden: [paths.stateDir], appDir: ctx.config.rootDir },
          launchMounts: await launchMounts,
        }
      : { uid, gid, home: paths.desktopHome(record.id), log: paths.desktopLog(record.id), launchMounts: await launchMounts };
    const images = paths.checkpointImages(checkpointId);
    // A post-copy move's images hold no lazy page: only the source's page server has them.
    const lazy = !!options.lazyFrom || (bySize && (mode !== 'auto' || (await premapping!)));
    const n = checkpoint.restores.length + 1;
    const logPath = paths.checkpointRestoreLog(checkpointId, n);
    // The daemon's socket (a fixed name) and the restore meet in the desktop's own folder: root's, hidden from
    // every tree (--hide), one restore at a time by the desktop's lock; never the images folder (an export takes
    // every file there).
    const workDir = path.join(paths.desktopDir(record.id), 'lazy');
    const lazyLog = logPath.replace(/\.log$/, '-pages.log');
    // The lazy-pages daemon must listen before criu restore connects to it. It reads the images and nothing else:
    // it starts once they are judged, and listens while the host's half of the check and the rest are done
    // (criu/trust.ts TrustPart). Not so for a running desktop: its own daemon may still hold the socket (it is
    // let finish by the stop), and one that is not to be stopped is refused below. A restore that stops short of
    // criu ends the daemon it started.
    const startDaemon = () => deps.lazyPages({ imagesDir: images, workDir, logPath: lazyLog, pageServer: options.lazyFrom });
    const early = lazy && record.state !== 'running';
    let daemonStarting: Promise<LazyDaemon> | undefined;
    let criuOptions: CriuOptions;
    let previous: DesktopRecord['state'];
    let keptInode: number | undefined;
    let keepConnections: boolean;
    try {
      await deps.trustImages(images, checkpointId, expected, early ? ['images'] : undefined);
      if (await lazyLeft) {
        throw new FreezeframeError('images_missing', `checkpoint ${checkpointId} was dumped for a lazy move: part of its memory was never in its images (it was served to the move's target), so it cannot be restored`);
      }
      if (early) {
        daemonStarting = startDaemon();
        daemonStarting.catch(() => {});
        await deps.trustImages(images, checkpointId, expected, ['host']);
      }
      t.step('trust');
      if (record.moving) {
        throw new FreezeframeError('bad_state', `desktop ${record.id} is moving to host ${record.moving.host} (since ${record.moving.at}): it may run there already`);
      }
      if (record.movedTo) {
        throw new FreezeframeError('bad_state', `desktop ${record.id} moved to host ${record.movedTo.host} (${record.movedTo.at}): it runs there; restoring it here would make two of it`);
      }
      if (record.state === 'running' && options.stopRunning) {
        record = await stopLocked(ctx, record);
        // The stop let a lazy restore's daemon finish, and wrote its outcome on its checkpoint: maybe this one.
        checkpoint = await store.getCheckpoint(checkpointId);
      }
      if (record.state !== 'checkpointed' && record.state !== 'stopped' && record.state !== 'failed') {
        throw new FreezeframeError('bad_state', `desktop ${record.id} is ${record.state}: stop it before restoring a checkpoint (or ask to stop it first)`, { state: record.state });
      }
      if (!existsSync(path.join(images, 'inventory.img'))) {
        throw new FreezeframeError('images_missing', `checkpoint ${checkpointId} has no images at ${images}`);
      }
      if (!contained) {
        if (!(await ctx.displays.claim(record.display, record.id))) {
          throw new FreezeframeError('display_in_use', `display :${record.display} of desktop ${record.id} is taken by another desktop`);
        }
        // Only this desktop's display: a lock or socket left by its own earlier, failed restore.
        await deps.cleanup.removeXLeftovers(record.display);
        if (!(await deps.ports.isFree(record.vncPort))) {
          throw new FreezeframeError('display_in_use', `port ${record.vncPort} of desktop ${record.id} is taken by another program`);
        }
      }
      previous = record.state;
      // The viewers' connections can come back only from the checkpoint the desktop froze at: their peers (the
      // bridge's sockets) are still waiting at exactly that point. Restored from any other checkpoint, the
      // connections in the images are from another time, and their peers would ignore them forever: those are
      // restored closed, and the viewers reconnect.
      // A contained desktop's connections live in its kept namespace, which holds criu's network lock from the dump
      // while the desktop is checkpointed; only a restore of those very connections removes it (criu with --tcp-close
      // leaves it: measured, no new viewer could connect). So any other restore gets a fresh namespace, never locked
      // (the clones' case: --network-lock skip); the old one goes with its last socket.
      keptInode = contained && previous === 'checkpointed' ? await keptInodeRead : undefined;
      keepConnections = previous === 'checkpointed' && record.lastCheckpoint === checkpointId && (!contained || keptInode !== undefined);
      if (contained && !keepConnections) await deps.rooms.createNetns(room.netns);
      if (lazy && !daemonStarting) {
        daemonStarting = startDaemon();
        daemonStarting.catch(() => {});
      }
      t.step('checks');
      criuOptions = {
        imagesDir: images,
        logFile: logPath,
        logLevel: config.criuLogLevel,
        tcpEstablished: keepConnections,
        tcpClose: !keepConnections,
        fileLocks: true,
        // The tree has a mount namespace of its own: criu needs --root to restore it (and breaks with
        // --mntns-compat-mode).
        root: '/',
        restoreDetached: true,
        pidfile: paths.checkpointPidfile(checkpointId),
        ...(lazy ? { lazyPages: true, workDir } : {}),
        ...(contained ? containedRestoreOptions({ homeDir: room.home, runDir: room.run, ...ownPasswd(record, room) }, keepConnections) : {}),
      };
      // The command from the start: a reconcile after a crash tells by it whether the connections were kept.
      // Not fsynced: after a power loss there is no restore under way to tell a restarted server about.
      await store.setState(record, 'restoring', { lastError: undefined, lastOperation: { kind: 'restore', checkpoint: checkpointId, startedAt: deps.clock.now(), command: [config.criuPath, ...criuArgs('restore', criuOptions)] } }, { durable: false });
      // The log must be the size the tree had open at the dump (see seal), its tail as it was; the newer one is
      // kept. Synchronous calls (storage/logs.ts), as the record's write: ~0.2 ms, where their hops through libuv's
      // pool took ~1.5 ms.
      const log = contained ? room.log : paths.desktopLog(record.id);
      try {
        renameSync(log, `${log}.1`);
      } catch {}
      await copyLogTail(paths.checkpointDesktopLog(checkpointId), log);
      // A pidfile left by an earlier restore makes criu fail.
      rmSync(paths.checkpointPidfile(checkpointId), { force: true });
      t.step('log copy, state');
    } catch (error) {
      const unused = await daemonStarting?.catch(() => undefined);
      unused?.kill();
      await unused?.done;
      throw error;
    }
    ctx.emit({ type: 'restoring', desktop: record, checkpoint });
    t.step('emit restoring');
    let daemon: LazyDaemon | undefined;
    try {
      daemon = await daemonStarting;
      if (daemon) t.step('lazy-pages listening');
      // criu gets the kept namespace as its fd 3 (containedRestoreOptions' inherit-fd), opened for this restore only.
      const netns = contained ? openSync(room.netnsPath, 'r') : undefined;
      // The worker the dump's follow-up started holding this very namespace (by its inode), if it still waits.
      const workerKey = keepConnections ? restoreWorkerKey(room.netnsPath, keptInode!) : undefined;
      const result = await deps.criu('restore', criuOptions, (pid) => noteCriu(ctx, record, pid), netns === undefined ? undefined : [netns], workerKey)
        .finally(() => netns !== undefined && closeSync(netns));
      t.step('criu');
      // The tree runs and its connections are unlocked: the viewers' held bytes may go now, not after the pidfile,
      // the identity check and two record writes (2-5 ms quiet; 25-110 ms in the traces at load 9-12, bench/README.md).
      // Should one of those fail, the 'failed' event follows; the bytes went to the tree criu restored.
      const connections = keepConnections ? 'kept' as const : 'closed' as const;
      ctx.resumed?.({ type: 'restored', desktop: record, checkpoint, ms: result.durationMs, connections });
      // criu writes its stats in its work dir (stats.c: AT_FDCWD): the images folder, or a lazy restore's own.
      const statsRead = readStats(path.join(lazy ? workDir : images, 'stats-restore')).catch(() => undefined);
      const pid = Number(readFileSync(paths.checkpointPidfile(checkpointId), 'utf8').trim());
      const identity = await deps.processes.identify(pid);
      if (!identity) throw new FreezeframeError('gone', `criu restored desktop ${record.id} but its root ${pid} is not alive`);
      deps.processes.adoptRoot(identity);
      t.step('pidfile, identify');
      // --tcp-close leaves the DROP rules of the network lock behind.
      if (!keepConnections && !contained) await deps.cleanup.removeCriuRules(record.vncPort);
      const stats = (await statsRead)?.restore;
      const info: RestoreInfo = { at: deps.clock.now(), ms: result.durationMs, ok: true, logPath, command: result.command, stats, ...(daemon ? { lazy: { logPath: lazyLog } } : {}) };
      // Until the daemon has sent the last page, the record says so (to this process and any other): no dump.
      const daemonIdentity = daemon ? await deps.processes.identify(daemon.pid) : undefined;
      checkpoint.restores.push(info);
      // Two records, independent of each other: written at once, fsynced just after (jsonFiles.ts).
      await Promise.all([
        store.saveCheckpoint(checkpoint, { durable: 'background' }),
        store.setState(record, 'running', {
          pid, pidStartTime: identity.startTime, lastCheckpoint: checkpointId,
          // A daemon already gone (nothing left to send) is judged all the same, by watchPages.
          fetching: daemon ? { pid: daemon.pid, startTime: daemonIdentity?.startTime ?? '', logPath: lazyLog, checkpoint: checkpointId } : undefined,
          lastOperation: { ...record.lastOperation!, ms: result.durationMs, ok: true, command: result.command, verdict: result.lastLine },
        }, { durable: 'background' }),
      ]);
      t.step('stats, records');
      ctx.emit({ type: 'restored', desktop: record, checkpoint, ms: result.durationMs, connections });
      // Gone already (every page sent, or none to send): settled now rather than waited for by the next operation.
      if (daemon) watchPages(ctx, record.id, daemon);
      t.done(`criu ${result.durationMs.toFixed(1)}`);
      return { desktop: record, checkpoint, restoreMs: result.durationMs };
    } catch (error) {
      // A daemon left waiting for a restorer that failed: ended, its log kept beside the restore's.
      daemon?.kill();
      await daemon?.done;
      const info = toErrorInfo(error);
      // A failed restore leaves CRIU's DROP rules and Xvnc's lock and socket: this desktop's only.
      if (!contained) {
        await deps.cleanup.removeCriuRules(record.vncPort).catch(() => {});
        await deps.cleanup.removeXLeftovers(record.display).catch(() => {});
        if (previous === 'stopped') await ctx.displays.release(record.display, record.id);
      }
      const command = error instanceof CriuError ? error.failure.command : [];
      checkpoint.restores.push({ at: deps.clock.now(), ms: 0, ok: false, logPath, command, error: info });
      await store.saveCheckpoint(checkpoint);
      await store.setState(record, previous, { lastError: info, lastOperation: { ...record.lastOperation!, ok: false, command } });
      ctx.emit({ type: 'failed', desktop: record, checkpoint, operation: 'restore', error: info });
      throw new FreezeframeError('criu', `restore of checkpoint ${checkpointId} failed: ${info.message}`, { error: info }, { cause: error });
    }
  }));
}
