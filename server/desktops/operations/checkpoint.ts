// Checkpointing a running desktop: criu dump (the tree stops, unless it is a snapshot), with a thumbnail of its screen.
import { mkdir, open, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { CriuError } from '../../criu/errors';
import { criuArgs, type CriuOptions } from '../../criu/options';
import type { CriuResult } from '../../criu/run';
import { toErrorInfo } from '../../errorInfo';
import { FreezeframeError } from '../../errors';
import type { CheckpointRecord, DesktopRecord } from '../records';
import { newId } from '../../../lib/ids';
import type { OperationContext } from './context';
import type { Tidied } from './tidy';
import { reconcileLocked } from './reconcile';
import { endOfTree } from './halt';
import { noteCriu, sealCheckpoint } from './seal';
import { isContained, restoreWorkerKey, roomOf, vncTargetOf } from '../rooms';
import { containedDumpOptions } from '../../sandbox/criuFlags';
import { settlePages } from './pages';
import { trace } from '../../trace';
import type { LazyDump } from '../../criu/lazyDump';
import { lazyModule } from '../../lazyModule';

/** The tidying (pages shared, retention), loaded at the first checkpoint's follow-up and kept (lazyModule.ts). */
const tidy = lazyModule(() => import('./tidy'));

export interface CheckpointOptions {
  /** criu --leave-running: a snapshot; the desktop keeps running. */
  leaveRunning?: boolean;
  /** A move's dump: memory pages straight to the target's `criu page-server` (server/fleet/pageServer.ts). */
  pageServer?: { address: string; port: number };
  /**
   * A post-copy move's dump (criu/lazyDump.ts): every image but the lazy pages, which criu then serves on
   * address:port until the target has fetched them; the tree stays frozen (seized by that criu) until then.
   */
  lazyServer?: { address: string; port: number };
}

/** A lazy dump still serving its pages, and the tree it froze (criu kills it once every page was fetched). */
export interface Serving {
  dump: LazyDump;
  treePids: number[];
}

const transientDumpErrors = /in-flight|The socket has data to read|Zombies with threads are not supported|Zombie thread not supported/i;
const exitingError = /Zombies with threads are not supported/;

/**
 * How long a retry waits for a process caught half-way out to finish its exit. Every thread runs its own exit and
 * the last one frees the memory: a Firefox content process has 15-20 threads (test/lazy's desktops), each waiting
 * for a core at load 14 on 2 cores. test/dumpExiting, a process half-way out for 4 s: with fixed waits of 100 and
 * 200 ms the three attempts all failed; waiting for the exit, the second one completes.
 */
const exitingWaitMs = 5_000;

/**
 * criu dump, again when it failed only because of what was in flight at that instant: a connection being set
 * up (an app connecting to the X server's unix socket, typically just after start), or a netlink socket with a
 * message not yet read (Firefox listens for network changes), or a process caught exiting, its leader gone and
 * its threads not yet (criu/seize.c: "Zombies with threads are not supported"; a Firefox content process, once
 * in a CI run of 10 lazy cycles), or a thread caught exiting the instant criu seized it (seize.c collect_threads:
 * "Zombie thread not supported"; Firefox's thread pools end idle threads: its processes' thread counts changed
 * between the cycles of test/lazy). criu then resumes the tree untouched, and a moment later the socket is an
 * ordinary one, the process or thread a plain zombie or gone: for a process half-way out the retry waits for
 * that (processes.ts waitForExiting) rather than for a fixed time. retried gets criu's reason for each attempt
 * that was tried again.
 *
 * Files in flight: every attempt but the last refuses a socket queue holding files passed with SCM_RIGHTS and not
 * yet received (criu --refuse-fds-in-flight, scripts/criu-patches/0005; the last takes them, as criu does). A
 * Firefox checkpoint that caught one (a memfd of its IPC, a message's payload, on its way from a content process
 * to the parent) lost Firefox on every restore, eager or lazy: "JSStructuredCloneData ReadBytesInto failed",
 * "Exiting due to channel error", then a segmentation fault. The three such checkpoints kept each held one; none
 * of 29 good ones did. Checkpointed in Firefox's first seconds (bench/analysis/firefoxEarly.mts): Firefox lost after
 * 2 restores of 62 without the refusal, 0 of 70 with it (bench/README.md, "Issue #13, session 8").
 */
async function dumpWithRetry(ctx: OperationContext, given: CriuOptions, record: DesktopRecord, retried: string[], attempts = 3, lazy?: (dump: LazyDump) => void): Promise<CriuResult> {
  for (let attempt = 1; ; attempt++) {
    const options = ctx.config.refuseFdsInFlight && attempt < attempts ? { ...given, refuseFdsInFlight: true } : given;
    try {
      if (lazy) {
        if (!ctx.deps.lazyDump) throw new FreezeframeError('bad_state', 'this host cannot make a lazy dump');
        const dump = await ctx.deps.lazyDump(options, (pid) => noteCriu(ctx, record, pid));
        lazy(dump);
        return { op: 'dump', command: dump.command, durationMs: dump.durationMs, stdout: '', lastLine: 'Starting lazy pages server', logPath: dump.logPath };
      }
      return await ctx.deps.criu('dump', options, (pid) => noteCriu(ctx, record, pid));
    } catch (error) {
      const reason = error instanceof CriuError ? error.failure.errors.find((e) => transientDumpErrors.test(e)) : undefined;
      if (!reason || attempt >= attempts) throw error;
      await rm(options.imagesDir!, { recursive: true, force: true });
      await mkdir(options.imagesDir!, { recursive: true, mode: 0o700 });
      if (exitingError.test(reason)) {
        // Still half-way out after that long is no exit under way (a leader that ended by pthread_exit while its
        // threads work on): no attempt would do better.
        if ((await ctx.deps.processes.waitForExiting(record.pid!, exitingWaitMs)).length) throw error;
      } else await delay(100 * attempt);
      retried.push(reason);
    }
  }
}

/**
 * The checkpoint, handed back as soon as it is sealed and the desktop recorded; its follow-up (a frozen contained
 * desktop's home copied for clones, then the tidying: pages shared, the retention policy applied) goes on under the
 * same lock, which the next operation in this process waits for (lock.ts runThen). followUp is the tidying's outcome.
 *
 * Why (FREEZEFRAME_TRACE, overhead bench, contained xterm desktop, load 10): after criu, the home copy (`cp -a`
 * spawned from the server) took 8-61 ms and the tidying 7-17 ms, against a raw dump of 125-400 ms: the two were
 * most of what the API added to criu.
 */
export async function checkpointDesktop(
  ctx: OperationContext,
  id: string,
  options: CheckpointOptions = {},
): Promise<{ desktop: DesktopRecord; checkpoint: CheckpointRecord; followUp: Promise<Tidied>; serving?: Serving }> {
  const { paths, store, deps, config } = ctx;
  const t = trace(`dump ${id}`);
  await store.load(id); // an unknown id is "not found", before any lock is taken for it
  const { value, followUp } = await ctx.locks.runThen(id, 'checkpoint', async () => {
    t.step('load+lock');
    // After a lazy restore, not before its last page is in: the dump would write the pages still missing as holes.
    const record = await settlePages(ctx, await reconcileLocked(ctx, await store.load(id)));
    t.step('reconcile');
    if (record.state !== 'running') {
      throw new FreezeframeError('bad_state', `desktop ${id} is ${record.state}: only a running desktop can be checkpointed`, { state: record.state });
    }
    const leaveRunning = options.leaveRunning ?? false;
    const cpId = newId('c');
    // The screen as the server kept it, or else read over VNC (inside a contained desktop's namespace) while the
    // records are written; a desktop too busy to answer gets no thumbnail, never a failed checkpoint.
    const screen = deps.screen.capture({ ...record, netnsPath: vncTargetOf(paths, record).netnsPath }).catch(() => undefined);
    const contained = isContained(record);
    const room = roomOf(paths, record.id);
    const [netnsInode] = await Promise.all([
      contained ? deps.rooms.netnsInode(room.netns) : undefined,
      mkdir(paths.checkpointImages(cpId), { recursive: true, mode: 0o700 }),
    ]);
    t.step('netns inode, mkdir');
    if (contained && netnsInode === undefined) {
      throw new FreezeframeError('gone', `desktop ${id} has lost its network namespace ${room.netns}: stop it and restore a checkpoint`);
    }
    const criuOptions: CriuOptions = {
      imagesDir: paths.checkpointImages(cpId),
      logFile: paths.checkpointDumpLog(cpId),
      logLevel: config.criuLogLevel,
      tree: record.pid!,
      tcpEstablished: true,
      fileLocks: true,
      leaveRunning,
      // A viewer connecting at the instant of the dump sits in Xvnc's accept queue, and criu refuses to dump
      // such an "in-flight connection"; skipped, that viewer just reconnects.
      skipInFlight: true,
      // What its presets need (lib/presets.ts; Chromium: ghostLimit).
      ...record.criu,
      // A contained desktop: its namespace, home and run folder named by key, the host's mounts by path; nothing
      // of the host (state folder, display, port) in the images (server/sandbox/criuFlags.ts).
      // With a uid of its own, the generated passwd and group files are named by key too.
      ...(contained ? containedDumpOptions(netnsInode!, { ownUser: !!record.ownUser }) : {}),
      ...(options.pageServer ? { pageServer: true, address: options.pageServer.address, port: options.pageServer.port } : {}),
      ...(options.lazyServer ? { lazyPages: true, address: options.lazyServer.address, port: options.lazyServer.port } : {}),
    };
    const checkpoint: CheckpointRecord = {
      id: cpId, desktop: id, createdAt: deps.clock.now(), state: 'dumping', leaveRunning,
      desktopSpec: { ...(contained ? { kind: record.kind } : {}), display: record.display, vncPort: record.vncPort, geometry: record.geometry, apps: record.apps, vncPassword: record.vncPassword, vncViewPassword: record.vncViewPassword, uid: record.uid, gid: record.gid, ...(record.ownUser ? { ownUser: true } : {}), criu: record.criu },
      command: [config.criuPath, ...criuArgs('dump', criuOptions)], logPath: paths.checkpointDumpLog(cpId), restores: [],
    };
    // Independent of each other (a crash between the two saves is reconciled like any interrupted dump). Not
    // fsynced: they tell a restarted server that a dump was under way, and after a power loss there is none.
    const [tree] = await Promise.all([
      deps.processes.treeIdentities(record.pid!),
      store.saveCheckpoint(checkpoint, { durable: false }),
      store.setState(record, 'checkpointing', { lastError: undefined, lastOperation: { kind: 'dump', checkpoint: cpId, startedAt: deps.clock.now(), command: checkpoint.command } }, { durable: false }),
    ]);
    t.step('records, treePids');
    ctx.emit({ type: 'checkpointing', desktop: record, checkpoint });
    t.step('emit checkpointing');
    // Our VNC connection must be closed before criu looks at the tree. The PNG is made after the reply: made while
    // criu worked, its scaling and deflate (5-10 ms of CPU) ran ahead of the dumped tasks (criu's parasite works at
    // their nice 0, the server at -5: server/priority.ts), on 2 cores; made beside the seal, it held the reply back
    // (the seal's reads wait for the event loop it keeps busy: 10-25 ms in the traces).
    const captured = await screen;
    const makeThumbnail = (): Promise<boolean> =>
      captured ? deps.screen.writeThumbnail(captured, paths.checkpointThumbnail(cpId)).then(() => true, () => false) : Promise.resolve(false);
    t.step('screen');

    let result: CriuResult;
    let serving: Serving | undefined;
    const retried: string[] = [];
    try {
      // A page server takes one dump: no retry.
      result = await dumpWithRetry(ctx, criuOptions, record, retried, criuOptions.pageServer ? 1 : 3, options.lazyServer ? (dump) => { serving = { dump, treePids: tree.map((p) => p.pid) }; } : undefined);
    } catch (error) {
      const info = toErrorInfo(error);
      if (retried.length) checkpoint.retried = retried;
      checkpoint.thumbnail = await makeThumbnail();
      // A failed dump is no checkpoint: its partial images go, its log stays for the record.
      await rm(paths.checkpointImages(cpId), { recursive: true, force: true });
      checkpoint.command = error instanceof CriuError ? error.failure.command : [];
      await store.saveCheckpoint(Object.assign(checkpoint, { state: 'failed', error: info }));
      const alive = await deps.processes.isAlive({ pid: record.pid!, startTime: record.pidStartTime! });
      // CRIU resumes the tree after a failed dump; make sure no DROP rule of its network lock outlives it.
      if (alive && !contained) await deps.cleanup.removeCriuRules(record.vncPort);
      await store.setState(record, alive ? 'running' : 'failed', { lastError: info, lastOperation: { ...record.lastOperation!, ok: false, command: checkpoint.command } });
      ctx.emit({ type: 'failed', desktop: record, checkpoint, operation: 'dump', error: info });
      throw new FreezeframeError('criu', `checkpoint of desktop ${id} failed: ${info.message}`, { error: info, checkpoint: cpId }, { cause: error });
    }

    // The tree's end and the checkpoint's bookkeeping overlap (criu has killed the tree: what it left in the log
    // is what criu recorded); the desktop is said to be checkpointed only once its tree is gone.
    // A lazy dump's tree stays frozen until its pages are fetched (criu kills it then): nothing to wait for here.
    const exited = leaveRunning || serving
      ? Promise.resolve()
      // criu said the dump succeeded but left processes behind: never report a half-frozen desktop as fine. By
      // identity: a PID given to another process meanwhile is no survivor of this tree.
      : endOfTree(deps.processes, tree);
    t.step('criu');
    if (retried.length) checkpoint.retried = retried;
    // What a clone's home overlays: the home as the images' open files know it. xclock's: 10-22 ms, Firefox's
    // profile: 42 ms. A snapshot's tree keeps running: its copy is taken now, a moment after the dump. A frozen
    // tree's home cannot change until this desktop is restored, which waits for this lock: its copy is taken in
    // the follow-up, after the reply (a server that dies first leaves the checkpoint without a base: restorable,
    // not clonable).
    const copyHome = () => deps.rooms.copyHomeBase(room.home, paths.checkpointHomeBase(cpId)).then(() => { checkpoint.homeBase = true; }, () => {});
    if (contained && leaveRunning) await copyHome();
    t.step('home-base');
    await sealCheckpoint(ctx, checkpoint, { dumpMs: result.durationMs, command: result.command });
    t.step('seal');
    // What a lazy restore by size will ask of these images (criu/lazyPages.ts premapFits), read now, off its path.
    if (config.lazy === 'auto' && (checkpoint.imageBytes ?? 0) >= config.lazyMinBytes) void deps.premapFits(paths.checkpointImages(cpId)).catch(() => {});
    await exited;
    t.step('tree exit');
    const frozen = leaveRunning ? {} : { pid: undefined, pidStartTime: undefined };
    await store.setState(record, leaveRunning ? 'running' : 'checkpointed', {
      ...frozen, lastCheckpoint: cpId,
      lastOperation: { ...record.lastOperation!, ms: result.durationMs, ok: true, command: result.command, verdict: result.lastLine },
    }, { durable: 'background' });
    t.step('desktop record');
    // The thumbnail is written and recorded after the reply (its PNG: 10-16 ms after criu in the overhead bench's
    // traces, most of what the reply waited for after criu); a read of it meanwhile, by whoever learns of the
    // checkpoint from here on, waits for it (Desktops.thumbnail).
    let thumbnailWritten!: (made: Promise<boolean>) => void;
    ctx.thumbnails.set(cpId, new Promise<boolean>((resolve) => { thumbnailWritten = resolve; }));
    ctx.emit({ type: 'checkpointed', desktop: record, checkpoint, ms: result.durationMs });
    t.done(`criu ${result.durationMs.toFixed(1)}`);
    return {
      value: { desktop: record, checkpoint, serving },
      after: async () => {
        // First, for the pages waiting for it: the checkpoint's card, an audience's picture of the freeze.
        const made = makeThumbnail();
        thumbnailWritten(made);
        try {
          checkpoint.thumbnail = await made;
          if (checkpoint.thumbnail) await store.saveCheckpoint(checkpoint);
        } finally {
          // Forgotten once the record says so (a read in between learns it from here).
          ctx.thumbnails.delete(cpId);
        }
        if (checkpoint.thumbnail) ctx.emit({ type: 'changed', desktop: record, checkpoint });
        if (contained && !leaveRunning) {
          await copyHome();
          if (checkpoint.homeBase) await store.saveCheckpoint(checkpoint);
          // The restore's criu, started now holding the kept namespace (criu/swrk.ts): its start is then off the
          // restore's path, as a dump's is. Measured (overhead bench): the command line's fork from the server
          // and criu's start took 13-18 ms before criu opened its log.
          if (deps.prepareCriu) {
            const netns = await open(room.netnsPath, 'r').catch(() => undefined);
            if (netns) {
              try {
                deps.prepareCriu(restoreWorkerKey(room.netnsPath, netnsInode!), [netns.fd]);
              } finally {
                await netns.close();
              }
            }
          }
        }
        const tidied = await (await tidy()).tidyLocked(ctx, id);
        // The images as the restore will read them (the tidying leaves the newest whole): decoded now, the trust
        // check of its restore only judges them (criu/trust.ts). A restore waiting for this lock would decode them
        // itself otherwise.
        await deps.warmTrust?.(paths.checkpointImages(cpId));
        return tidied;
      },
    };
  });
  return { ...value, followUp };
}
