// The desktops: start, checkpoint (criu dump), restore, stop; one operation at a time each; state kept on disk.
import 'server-only';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { access, copyFile, mkdir, open, readFile, readdir, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Config } from '../config';
import { CriuError } from '../criu/errors';
import { criuArgs, type CriuOptions } from '../criu/options';
import { runCriu, type CriuResult } from '../criu/run';
import { readVerdict } from '../criu/verdict';
import { readStats } from '../criu/images';
import { assertTrustedImages } from '../criu/trust';
import { captureScreen, writeThumbnailOf } from '../vnc/thumbnail';
import { newVncPassword, vncPasswordFile } from '../vnc/vncAuth';
import { inspectImages, recordedFileSize, type Inspection } from '../checkpoints/inspect';
import { unpackArchive } from '../checkpoints/archive';
import { verifyFolder, writeSignedArchive } from '../checkpoints/signing';
import { FreezeframeError } from '../errors';
import { toErrorInfo } from '../errorInfo';
export { toErrorInfo };
import { readAllJson, readJson, writeJsonAtomic } from '../store/jsonFiles';
import { checkCriuNeeds, commandLimits, criuNeeds, customApp, defaultApps, parseGeometry, resolveApps } from './apps';
import { removeCriuRules, removeXLeftovers } from './cleanup';
import { launchDesktop, LaunchError } from './launcher';
import { readLaunchMounts, saveLaunchMounts } from './launchMounts';
import { lookUpDesktopUser, makeSearchable, prepareDesktopFiles, type DesktopUser } from './desktopUser';
import { isPortFree, waitForPort } from './net';
import { waitForLogLine } from './logs';
import { identify, isAlive, signal, treePids, waitForExit } from './processes';
import { Paths, type CheckpointRecord, type DesktopRecord, type ErrorInfo, type RestoreInfo } from './records';
import { assertTransition, canTransition, isLive, type DesktopState } from './states';

export type DesktopEventType =
  | 'started'
  | 'checkpointing'
  | 'checkpointed'
  | 'restoring'
  | 'restored'
  | 'stopping'
  | 'stopped'
  | 'failed';

export interface DesktopEvent {
  type: DesktopEventType;
  desktop: DesktopRecord;
  checkpoint?: CheckpointRecord;
  /** How long the operation took (checkpointed: the dump; restored: the restore). */
  ms?: number;
  /**
   * restored: whether the viewers' TCP connections were restored with the desktop ('kept': the same connection
   * moves again) or restored closed ('closed': the viewers must connect anew).
   */
  connections?: 'kept' | 'closed';
  /** failed: which operation, and why. */
  operation?: 'start' | 'dump' | 'restore';
  error?: ErrorInfo;
}

export interface StartOptions {
  geometry?: string;
  /** Preset names (server/desktops/apps.ts). */
  apps?: string[];
  /** Commands of the user's own, as argv arrays. */
  commands?: string[][];
}

export interface RestoreOptions {
  /** Stop the desktop first if it is running (the user confirmed); otherwise a running desktop is refused. */
  stopRunning?: boolean;
}

export interface CheckpointOptions {
  /** criu --leave-running: a snapshot; the desktop keeps running. */
  leaveRunning?: boolean;
}

const now = () => new Date().toISOString();
const newId = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function directoryBytes(dir: string): Promise<number> {
  // All at once: a dump's images are ~100 files, and this runs on the checkpoint's critical path.
  const sizes = await Promise.all((await readdir(dir, { withFileTypes: true })).map((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? directoryBytes(full) : stat(full).then((s) => s.size);
  }));
  return sizes.reduce((a, b) => a + b, 0);
}

export class Desktops extends EventEmitter<{ event: [DesktopEvent] }> {
  readonly paths: Paths;
  /** Desktops with an operation under way in this process; the on-disk lock covers other processes (the CLI). */
  private readonly busy = new Map<string, string>();
  /** updatedAt of the last record version this process wrote, per desktop. */
  private readonly ownWrites = new Map<string, string>();

  constructor(readonly config: Config) {
    super();
    this.paths = new Paths(config.stateDir);
  }

  private user!: DesktopUser;

  async init(): Promise<void> {
    this.user = await lookUpDesktopUser(this.config.desktopUser);
    // The desktops' programs reach their homes (desktops/<id>/home) through these two, without listing them.
    await mkdir(this.paths.desktops(), { recursive: true, mode: 0o711 });
    await makeSearchable(this.config.stateDir);
    await makeSearchable(this.paths.desktops());
    await mkdir(this.paths.checkpoints(), { recursive: true, mode: 0o700 });
    await mkdir(path.dirname(this.paths.displayClaim(0)), { recursive: true, mode: 0o700 });
    await this.list();
  }

  private desktopFiles(id: string) {
    return { dir: this.paths.desktopDir(id), home: this.paths.desktopHome(id), passwordFile: this.paths.desktopPasswordFile(id) };
  }

  private emitEvent(event: DesktopEvent): void {
    this.emit('event', event);
  }

  // ---- records ----

  private async save(record: DesktopRecord, options?: { durable?: boolean }): Promise<DesktopRecord> {
    record.updatedAt = now();
    this.ownWrites.set(record.id, record.updatedAt);
    await writeJsonAtomic(this.paths.desktopRecord(record.id), record, options);
    return record;
  }

  /** Whether this very version of a record was written by this process (see watch.ts). */
  wroteLast(record: DesktopRecord): boolean {
    return this.ownWrites.get(record.id) === record.updatedAt;
  }

  /** Emits an event observed on disk, for a change another process (the CLI) made. */
  publish(event: DesktopEvent): void {
    this.emitEvent(event);
  }

  private async saveCheckpoint(record: CheckpointRecord): Promise<CheckpointRecord> {
    await writeJsonAtomic(this.paths.checkpointRecord(record.id), record);
    return record;
  }

  private async setState(record: DesktopRecord, state: DesktopState, changes: Partial<DesktopRecord> = {}) {
    assertTransition(record.state, state);
    Object.assign(record, changes, { state });
    return this.save(record);
  }

  private async load(id: string): Promise<DesktopRecord> {
    if (!/^[a-z0-9-]{1,64}$/.test(id)) throw new FreezeframeError('invalid', `"${id}" is not a desktop id`);
    const record = await readJson<DesktopRecord>(this.paths.desktopRecord(id));
    if (!record) throw new FreezeframeError('not_found', `no desktop ${id}`);
    return record;
  }

  /** The desktop as it really is: a record whose tree died meanwhile is brought in line first. */
  async get(id: string): Promise<DesktopRecord> {
    const record = await this.load(id);
    return this.busy.has(id) ? record : this.reconcile(record);
  }

  async list(): Promise<DesktopRecord[]> {
    const records = await readAllJson<DesktopRecord>(this.paths.desktops(), 'desktop.json');
    return Promise.all(records.map((r) => (this.busy.has(r.id) ? r : this.reconcile(r))));
  }

  async getCheckpoint(id: string): Promise<CheckpointRecord> {
    if (!/^[a-z0-9-]{1,64}$/.test(id)) throw new FreezeframeError('invalid', `"${id}" is not a checkpoint id`);
    const record = await readJson<CheckpointRecord>(this.paths.checkpointRecord(id));
    if (!record) throw new FreezeframeError('not_found', `no checkpoint ${id}`);
    return record;
  }

  async checkpoints(desktopId?: string): Promise<CheckpointRecord[]> {
    const all = await readAllJson<CheckpointRecord>(this.paths.checkpoints(), 'checkpoint.json');
    return all
      .filter((c) => !desktopId || c.desktop === desktopId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /**
   * Brings a record in line with the processes that really exist (after a crash of this server, a desktop that
   * died by itself, or an operation by another process). Skipped while another process holds the desktop's lock.
   */
  private async reconcile(record: DesktopRecord): Promise<DesktopRecord> {
    const alive = await isAlive(record.pid !== undefined ? { pid: record.pid, startTime: record.pidStartTime ?? '' } : undefined);
    const watching = record.state === 'starting' || record.state === 'running' || record.state === 'checkpointing' || record.state === 'restoring' || record.state === 'stopping';
    if (!watching || (alive && record.state === 'running')) return record;
    if (await this.lockHolder(record.id)) return record;
    // The server died while criu worked: as long as that criu runs, the operation is under way.
    if (await isCriu(record.lastOperation?.criuPid)) return record;
    const gone: ErrorInfo = { code: 'gone', message: "the desktop's processes are gone" };
    if (record.state === 'checkpointing') {
      const checkpoint = record.lastOperation?.checkpoint;
      const log = checkpoint ? await readFile(this.paths.checkpointDumpLog(checkpoint), 'utf8').catch(() => '') : '';
      if (checkpoint && readVerdict('dump', log).ok) {
        const cp = await this.getCheckpoint(checkpoint);
        if (!cp.leaveRunning && !alive) {
          // The dump completed after its server died: finish its bookkeeping now.
          await this.sealCheckpoint(cp, {});
          return this.setState(record, 'checkpointed', {
            pid: undefined, pidStartTime: undefined, lastCheckpoint: checkpoint,
            lastOperation: { ...record.lastOperation!, ok: true, criuPid: undefined },
          });
        }
      }
      if (checkpoint) {
        const cp = await this.getCheckpoint(checkpoint).catch(() => undefined);
        if (cp?.state === 'dumping') await this.saveCheckpoint({ ...cp, state: 'failed', error: { code: 'interrupted', message: 'the dump was interrupted' } });
      }
      return alive ? this.setState(record, 'running') : this.setState(record, 'failed', { lastError: gone, pid: undefined });
    }
    if (record.state === 'restoring') {
      const checkpoint = record.lastOperation?.checkpoint;
      const pid = checkpoint ? Number(await readFile(this.paths.checkpointPidfile(checkpoint), 'utf8').catch(() => '')) : 0;
      const restored = pid > 0 ? await identify(pid) : undefined;
      if (restored) return this.setState(record, 'running', { pid: restored.pid, pidStartTime: restored.startTime });
      return this.setState(record, 'failed', { lastError: { code: 'interrupted', message: 'the restore was interrupted' }, pid: undefined });
    }
    // A stop its server did not live to finish: finish it.
    if (record.state === 'stopping') return this.stopNow(record);
    if (alive) return this.setState(record, 'running');
    return this.setState(record, 'failed', { lastError: gone, pid: undefined, pidStartTime: undefined });
  }

  // ---- one operation at a time ----

  private async lockHolder(id: string): Promise<{ pid: number; op: string; since: string } | undefined> {
    const holder = await readJson<{ pid: number; op: string; since: string }>(this.paths.desktopLock(id)).catch(() => undefined);
    if (!holder) return undefined;
    if (holder.pid === process.pid) return this.busy.has(id) ? holder : undefined;
    // identify, not kill(pid, 0): a holder that died as a zombie (adopted by us, or by a PID 1 that never reaps)
    // holds nothing.
    return (await identify(holder.pid)) ? holder : undefined;
  }

  /** Runs fn as the desktop's only operation; a second request meanwhile is refused, never run twice. */
  private async exclusive<T>(id: string, op: string, fn: () => Promise<T>): Promise<T> {
    const current = this.busy.get(id);
    if (current) throw new FreezeframeError('busy', `desktop ${id} is busy: ${current} is under way`);
    this.busy.set(id, op);
    try {
      const lockPath = this.paths.desktopLock(id);
      for (let attempt = 0; ; attempt++) {
        try {
          const handle = await open(lockPath, 'wx', 0o600);
          await handle.writeFile(JSON.stringify({ pid: process.pid, op, since: now() }));
          await handle.close();
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
          const holder = await this.lockHolder(id);
          if (holder && holder.pid !== process.pid) {
            throw new FreezeframeError('busy', `desktop ${id} is busy: ${holder.op} since ${holder.since} (process ${holder.pid})`);
          }
          await unlink(lockPath).catch(() => {});
        }
      }
      try {
        return await fn();
      } finally {
        await unlink(lockPath).catch(() => {});
      }
    } finally {
      this.busy.delete(id);
    }
  }

  // ---- displays ----

  /** Claims display N for desktop id; false if another desktop holds it. */
  private async claimDisplay(display: number, id: string): Promise<boolean> {
    const claim = this.paths.displayClaim(display);
    try {
      await writeExclusive(claim, id);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return (await readFile(claim, 'utf8').catch(() => '')).trim() === id;
    }
  }

  private async releaseDisplay(display: number, id: string): Promise<void> {
    const claim = this.paths.displayClaim(display);
    if ((await readFile(claim, 'utf8').catch(() => '')).trim() === id) await unlink(claim).catch(() => {});
  }

  private async displayIsFree(display: number): Promise<boolean> {
    const exists = (file: string) => access(file).then(() => true, () => false);
    if (await exists(`/tmp/.X${display}-lock`)) return false;
    if (await exists(`/tmp/.X11-unix/X${display}`)) return false;
    return (await isPortFree(5900 + display)) && (await isPortFree(6000 + display));
  }

  private async allocateDisplay(id: string): Promise<number> {
    const { min, max } = this.config.displays;
    for (let display = min; display <= max; display++) {
      if (!(await this.displayIsFree(display))) continue;
      if (await this.claimDisplay(display, id)) return display;
    }
    throw new FreezeframeError('display_in_use', `no free display in :${min}..:${max}`);
  }

  // ---- operations ----

  async start(options: StartOptions = {}): Promise<DesktopRecord> {
    const geometry = options.geometry ?? '1024x768';
    let apps;
    try {
      parseGeometry(geometry);
      if ((options.commands?.length ?? 0) > commandLimits.maxCommands) throw new RangeError(`at most ${commandLimits.maxCommands} commands`);
      apps = [...resolveApps(options.apps ?? (options.commands?.length ? [] : defaultApps)), ...(options.commands ?? []).map(customApp)];
    } catch (error) {
      throw new FreezeframeError('invalid', (error as Error).message);
    }
    const id = newId('d');
    const { uid, gid } = this.user;
    await mkdir(this.paths.desktopDir(id), { recursive: true, mode: 0o711 });
    return this.exclusive(id, 'start', async () => {
      const display = await this.allocateDisplay(id);
      const startedAt = now();
      const t0 = performance.now();
      const vncPassword = newVncPassword();
      // A second, view-only password: the audience link's viewers watch with it, and Xvnc ignores their input.
      const vncViewPassword = newVncPassword();
      await prepareDesktopFiles(this.desktopFiles(id), vncPasswordFile(vncPassword, vncViewPassword), { uid, gid });
      const record: DesktopRecord = {
        id, display, vncPort: 5900 + display, geometry, apps: apps.map((a) => (a.name === 'custom' ? a.label : a.name)), vncPassword, vncViewPassword, uid, gid,
        criu: criuNeeds(apps), // [catalog] what its presets need of criu, for every dump
        state: 'starting', createdAt: startedAt, updatedAt: startedAt,
        lastOperation: { kind: 'start', startedAt },
      };
      await this.save(record);
      try {
        const pid = await launchDesktop(this.config, {
          display, geometry, apps, logPath: this.paths.desktopLog(id), homeDir: this.paths.desktopHome(id),
          passwordFile: this.paths.desktopPasswordFile(id),
        });
        const identity = await identify(pid);
        if (!identity) throw new LaunchError(`the desktop exited at once; see ${this.paths.desktopLog(id)}`);
        Object.assign(record, { pid, pidStartTime: identity.startTime });
        await saveLaunchMounts(pid, this.paths.desktopLaunchMounts(id));
        await this.save(record);
        await waitForPort(record.vncPort, { timeoutMs: 30_000, stillWorthWaiting: () => isAlive(identity) });
        // Running means every app has been launched, not just Xvnc listening (desktop.sh logs this line).
        await waitForLogLine(this.paths.desktopLog(id), '] desktop started', { timeoutMs: 30_000, stillWorthWaiting: () => isAlive(identity) });
        await this.setState(record, 'running', { lastOperation: { ...record.lastOperation!, ms: performance.now() - t0, ok: true } });
        this.emitEvent({ type: 'started', desktop: record });
        return record;
      } catch (error) {
        const info = toErrorInfo(error);
        if (record.pid) await this.killTree(record);
        await removeXLeftovers(display);
        await this.releaseDisplay(display, id);
        await this.setState(record, 'failed', { lastError: { ...info, logPath: this.paths.desktopLog(id) }, pid: undefined, pidStartTime: undefined, lastOperation: { ...record.lastOperation!, ok: false } });
        this.emitEvent({ type: 'failed', desktop: record, operation: 'start', error: info });
        throw new FreezeframeError('launch', `desktop ${id} did not start: ${info.message}`, { desktop: id }, { cause: error });
      }
    });
  }

  async checkpoint(id: string, options: CheckpointOptions = {}): Promise<{ desktop: DesktopRecord; checkpoint: CheckpointRecord }> {
    await this.load(id); // an unknown id is "not found", before any lock is taken for it
    return this.exclusive(id, 'checkpoint', async () => {
      const record = await this.reconcile(await this.load(id));
      if (record.state !== 'running') {
        throw new FreezeframeError('bad_state', `desktop ${id} is ${record.state}: only a running desktop can be checkpointed`, { state: record.state });
      }
      const leaveRunning = options.leaveRunning ?? false;
      const cpId = newId('c');
      // The screen as it is now, read over VNC while the records are written; a desktop too busy to answer gets no
      // thumbnail, never a failed checkpoint.
      const screen = captureScreen(record.vncPort, record.vncPassword).catch(() => undefined);
      await mkdir(this.paths.checkpointImages(cpId), { recursive: true, mode: 0o700 });
      const criuOptions: CriuOptions = {
        imagesDir: this.paths.checkpointImages(cpId),
        logFile: this.paths.checkpointDumpLog(cpId),
        logLevel: this.config.criuLogLevel,
        tree: record.pid!,
        tcpEstablished: true,
        fileLocks: true,
        leaveRunning,
        // A viewer connecting at the instant of the dump sits in Xvnc's accept queue, and criu refuses to dump
        // such an "in-flight connection"; skipped, that viewer just reconnects.
        skipInFlight: true,
        ...record.criu, // [catalog] what its presets need (Chromium: ghostLimit)
      };
      const checkpoint: CheckpointRecord = {
        id: cpId, desktop: id, createdAt: now(), state: 'dumping', leaveRunning,
        desktopSpec: { display: record.display, vncPort: record.vncPort, geometry: record.geometry, apps: record.apps, vncPassword: record.vncPassword, vncViewPassword: record.vncViewPassword, uid: record.uid, gid: record.gid, criu: record.criu },
        command: [this.config.criuPath, ...criuArgs('dump', criuOptions)], logPath: this.paths.checkpointDumpLog(cpId), restores: [],
      };
      // Independent of each other (a crash between the two saves is reconciled like any interrupted dump).
      const [pids] = await Promise.all([
        treePids(record.pid!),
        this.saveCheckpoint(checkpoint),
        this.setState(record, 'checkpointing', { lastError: undefined, lastOperation: { kind: 'dump', checkpoint: cpId, startedAt: now(), command: checkpoint.command } }),
      ]);
      this.emitEvent({ type: 'checkpointing', desktop: record, checkpoint });
      // Our VNC connection must be closed before criu looks at the tree; the PNG is made while criu works.
      const captured = await screen;
      const thumbnail = captured
        ? writeThumbnailOf(captured, this.paths.checkpointThumbnail(cpId)).then(() => true, () => false)
        : Promise.resolve(false);

      let result: CriuResult;
      try {
        result = await this.dumpWithRetry(criuOptions, record);
      } catch (error) {
        const info = toErrorInfo(error);
        checkpoint.thumbnail = await thumbnail;
        // A failed dump is no checkpoint: its partial images go, its log stays for the record.
        await rm(this.paths.checkpointImages(cpId), { recursive: true, force: true });
        checkpoint.command = error instanceof CriuError ? error.failure.command : [];
        await this.saveCheckpoint(Object.assign(checkpoint, { state: 'failed', error: info }));
        const alive = await isAlive({ pid: record.pid!, startTime: record.pidStartTime! });
        // CRIU resumes the tree after a failed dump; make sure no DROP rule of its network lock outlives it.
        if (alive) await removeCriuRules(record.vncPort);
        await this.setState(record, alive ? 'running' : 'failed', { lastError: info, lastOperation: { ...record.lastOperation!, ok: false, command: checkpoint.command } });
        this.emitEvent({ type: 'failed', desktop: record, checkpoint, operation: 'dump', error: info });
        throw new FreezeframeError('criu', `checkpoint of desktop ${id} failed: ${info.message}`, { error: info, checkpoint: cpId }, { cause: error });
      }

      // The tree's end and the checkpoint's bookkeeping overlap (criu has killed the tree: what it left in the log
      // is what criu recorded); the desktop is said to be checkpointed only once its tree is gone.
      const exited = leaveRunning
        ? Promise.resolve()
        : waitForExit(pids, 5_000).then((survivors) => {
            // criu said the dump succeeded but left processes behind: never report a half-frozen desktop as fine.
            for (const pid of survivors) signal(pid, 'SIGKILL');
          });
      checkpoint.thumbnail = await thumbnail;
      await this.sealCheckpoint(checkpoint, { dumpMs: result.durationMs, command: result.command });
      await exited;
      const frozen = leaveRunning ? {} : { pid: undefined, pidStartTime: undefined };
      await this.setState(record, leaveRunning ? 'running' : 'checkpointed', {
        ...frozen, lastCheckpoint: cpId,
        lastOperation: { ...record.lastOperation!, ms: result.durationMs, ok: true, command: result.command, verdict: result.lastLine },
      });
      this.emitEvent({ type: 'checkpointed', desktop: record, checkpoint, ms: result.durationMs });
      return { desktop: record, checkpoint };
    });
  }

  /** Marks a dumped checkpoint complete: the desktop's log as criu saw it, the images' size, CRIU's stats. */
  private async sealCheckpoint(checkpoint: CheckpointRecord, { dumpMs, command }: { dumpMs?: number; command?: string[] }): Promise<void> {
    const images = this.paths.checkpointImages(checkpoint.id);
    const log = this.paths.desktopLog(checkpoint.desktop);
    // criu restores files at the size they had at the dump; the desktop's log is open in the tree and grows
    // after each restore, so a second restore of this checkpoint would fail ("has bad size") unless the log
    // is put back as it was at the dump. A snapshot's tree goes on writing, so the copy is cut to the size
    // criu recorded.
    const logCopy = this.paths.checkpointDesktopLog(checkpoint.id);
    const [loggedBytes, stats, imageBytes] = await Promise.all([
      recordedFileSize(images, log).catch(() => undefined),
      readStats(path.join(images, 'stats-dump')),
      directoryBytes(images),
      copyFile(log, logCopy),
    ]);
    if (loggedBytes !== undefined) await truncate(logCopy, loggedBytes);
    Object.assign(checkpoint, {
      state: 'complete',
      dumpMs: dumpMs ?? (stats?.dump ? stats.dump.frozenMs : undefined),
      command: command ?? checkpoint.command,
      imageBytes,
      dumpStats: stats?.dump,
    });
    await this.saveCheckpoint(checkpoint);
  }

  private async noteCriu(record: DesktopRecord, criuPid: number): Promise<void> {
    // Written while criu writes its images: no fsync (a criu PID means nothing after a power loss).
    await this.save(Object.assign(record, { lastOperation: { ...record.lastOperation!, criuPid } }), { durable: false });
  }

  /**
   * criu dump, again when it failed only because of what was in flight at that instant: a connection being set
   * up (an app connecting to the X server's unix socket, typically just after start), or a netlink socket with a
   * message not yet read (Firefox listens for network changes). criu then resumes the tree untouched, and a
   * moment later the socket is an ordinary one.
   */
  private async dumpWithRetry(options: CriuOptions, record: DesktopRecord, attempts = 3): Promise<CriuResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await runCriu(this.config.criuPath, 'dump', options, { onSpawn: (pid) => this.noteCriu(record, pid) });
      } catch (error) {
        const transient = error instanceof CriuError && error.failure.errors.some((e) => transientDumpErrors.test(e));
        if (!transient || attempt >= attempts) throw error;
        await rm(options.imagesDir!, { recursive: true, force: true });
        await mkdir(options.imagesDir!, { recursive: true, mode: 0o700 });
        await delay(100 * attempt);
      }
    }
  }

  async restore(
    checkpointId: string,
    options: RestoreOptions = {},
  ): Promise<{ desktop: DesktopRecord; checkpoint: CheckpointRecord; restoreMs: number }> {
    const checkpoint = await this.getCheckpoint(checkpointId);
    return this.exclusive(checkpoint.desktop, 'restore', async () => {
      let record = await this.reconcile(await this.load(checkpoint.desktop));
      if (checkpoint.state !== 'complete') {
        throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is ${checkpoint.state}, not complete: it cannot be restored`);
      }
      // Before anything changes (a running desktop stopped, the log put back): criu restores as root what the
      // images say. The ids are this installation's desktop user's, not the record's: an imported record names
      // whatever uid its archive says.
      await assertTrustedImages(this.paths.checkpointImages(checkpointId), checkpointId, {
        uid: this.user.uid, gid: this.user.gid, home: this.paths.desktopHome(record.id), log: this.paths.desktopLog(record.id),
        launchMounts: await readLaunchMounts(this.paths.desktopLaunchMounts(record.id)),
      });
      if (record.state === 'running' && options.stopRunning) record = await this.stopNow(record);
      if (record.state !== 'checkpointed' && record.state !== 'stopped' && record.state !== 'failed') {
        throw new FreezeframeError('bad_state', `desktop ${record.id} is ${record.state}: stop it before restoring a checkpoint (or ask to stop it first)`, { state: record.state });
      }
      const images = this.paths.checkpointImages(checkpointId);
      try {
        await access(path.join(images, 'inventory.img'));
      } catch {
        throw new FreezeframeError('images_missing', `checkpoint ${checkpointId} has no images at ${images}`);
      }
      if (!(await this.claimDisplay(record.display, record.id))) {
        throw new FreezeframeError('display_in_use', `display :${record.display} of desktop ${record.id} is taken by another desktop`);
      }
      // Only this desktop's display: a lock or socket left by its own earlier, failed restore.
      await removeXLeftovers(record.display);
      if (!(await isPortFree(record.vncPort))) {
        throw new FreezeframeError('display_in_use', `port ${record.vncPort} of desktop ${record.id} is taken by another program`);
      }
      const previous = record.state;
      // The viewers' connections can come back only from the checkpoint the desktop froze at: their peers (the
      // bridge's sockets) are still waiting at exactly that point. Restored from any other checkpoint, the
      // connections in the images are from another time, and their peers would ignore them forever: those are
      // restored closed, and the viewers reconnect.
      const keepConnections = previous === 'checkpointed' && record.lastCheckpoint === checkpointId;
      const n = checkpoint.restores.length + 1;
      const logPath = this.paths.checkpointRestoreLog(checkpointId, n);
      // Three independent steps, at once (the restore's critical path).
      await Promise.all([
        // The log must be byte for byte what the tree had open at the dump (see checkpoint); the newer one is kept.
        rename(this.paths.desktopLog(record.id), `${this.paths.desktopLog(record.id)}.1`).catch(() => {})
          .then(() => copyFile(this.paths.checkpointDesktopLog(checkpointId), this.paths.desktopLog(record.id))),
        // A pidfile left by an earlier restore makes criu fail.
        rm(this.paths.checkpointPidfile(checkpointId), { force: true }),
        this.setState(record, 'restoring', { lastError: undefined, lastOperation: { kind: 'restore', checkpoint: checkpointId, startedAt: now() } }),
      ]);
      this.emitEvent({ type: 'restoring', desktop: record, checkpoint });
      try {
        const result = await runCriu(this.config.criuPath, 'restore', {
          imagesDir: images,
          logFile: logPath,
          logLevel: this.config.criuLogLevel,
          tcpEstablished: keepConnections,
          tcpClose: !keepConnections,
          fileLocks: true,
          // The tree has a mount namespace of its own: criu needs --root to restore it (and breaks with
          // --mntns-compat-mode).
          root: '/',
          restoreDetached: true,
          pidfile: this.paths.checkpointPidfile(checkpointId),
        }, { onSpawn: (pid) => this.noteCriu(record, pid) });
        const statsRead = readStats(path.join(images, 'stats-restore')).catch(() => undefined);
        const pid = Number((await readFile(this.paths.checkpointPidfile(checkpointId), 'utf8')).trim());
        const identity = await identify(pid);
        if (!identity) throw new FreezeframeError('gone', `criu restored desktop ${record.id} but its root ${pid} is not alive`);
        // --tcp-close leaves the DROP rules of the network lock behind.
        if (!keepConnections) await removeCriuRules(record.vncPort);
        const stats = (await statsRead)?.restore;
        const info: RestoreInfo = { at: now(), ms: result.durationMs, ok: true, logPath, command: result.command, stats };
        checkpoint.restores.push(info);
        // Two records, independent of each other: written at once.
        await Promise.all([
          this.saveCheckpoint(checkpoint),
          this.setState(record, 'running', {
            pid, pidStartTime: identity.startTime, lastCheckpoint: checkpointId,
            lastOperation: { ...record.lastOperation!, ms: result.durationMs, ok: true, command: result.command, verdict: result.lastLine },
          }),
        ]);
        this.emitEvent({ type: 'restored', desktop: record, checkpoint, ms: result.durationMs, connections: keepConnections ? 'kept' : 'closed' });
        return { desktop: record, checkpoint, restoreMs: result.durationMs };
      } catch (error) {
        const info = toErrorInfo(error);
        // A failed restore leaves CRIU's DROP rules and Xvnc's lock and socket: this desktop's only.
        await removeCriuRules(record.vncPort).catch(() => {});
        await removeXLeftovers(record.display).catch(() => {});
        if (previous === 'stopped') await this.releaseDisplay(record.display, record.id);
        const command = error instanceof CriuError ? error.failure.command : [];
        checkpoint.restores.push({ at: now(), ms: 0, ok: false, logPath, command, error: info });
        await this.saveCheckpoint(checkpoint);
        await this.setState(record, previous, { lastError: info, lastOperation: { ...record.lastOperation!, ok: false, command } });
        this.emitEvent({ type: 'failed', desktop: record, checkpoint, operation: 'restore', error: info });
        throw new FreezeframeError('criu', `restore of checkpoint ${checkpointId} failed: ${info.message}`, { error: info }, { cause: error });
      }
    });
  }

  /** Sends SIGTERM to the tree's root (Xvnc then removes its lock), SIGKILL to what is left after 5 s. */
  private async killTree(record: DesktopRecord): Promise<void> {
    if (!record.pid) return;
    const pids = await treePids(record.pid);
    if (!pids.length) return;
    signal(record.pid, 'SIGTERM');
    const left = await waitForExit(pids, 5_000);
    // With PID 1 of the namespace gone, the kernel kills the rest.
    for (const pid of left) signal(pid, 'SIGKILL');
    await waitForExit(left, 5_000);
  }

  async stop(id: string): Promise<DesktopRecord> {
    await this.load(id); // an unknown id is "not found", before any lock is taken for it
    return this.exclusive(id, 'stop', async () => this.stopNow(await this.reconcile(await this.load(id))));
  }

  /** Stops a desktop whose operation lock is held; its checkpoints stay. */
  private async stopNow(record: DesktopRecord): Promise<DesktopRecord> {
    if (record.state === 'stopped') return record;
    // By its pid, not its state: a desktop recorded as failed may still have processes worth ending.
    if (isLive(record.state) || (await isAlive(record.pid ? { pid: record.pid, startTime: record.pidStartTime ?? '' } : undefined))) {
      // Recorded and said before Xvnc dies, not after: a viewer that saw its connection drop first would take it
      // for a lost session and reconnect into the dying desktop (a 502); 'stopping' tells it the desktop is going.
      if (canTransition(record.state, 'stopping')) {
        await this.setState(record, 'stopping');
        this.emitEvent({ type: 'stopping', desktop: record });
      }
      await this.killTree(record);
    }
    await removeXLeftovers(record.display);
    await removeCriuRules(record.vncPort).catch(() => {});
    await this.releaseDisplay(record.display, record.id);
    await this.setState(record, 'stopped', { pid: undefined, pidStartTime: undefined, lastOperation: { kind: 'stop', startedAt: now(), ok: true } });
    this.emitEvent({ type: 'stopped', desktop: record });
    return record;
  }

  /** The process tree, files, sockets and memory a checkpoint holds, decoded from its images. */
  async inspect(checkpointId: string): Promise<Inspection> {
    const checkpoint = await this.getCheckpoint(checkpointId);
    if (checkpoint.state !== 'complete') throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is ${checkpoint.state}: it has no images`);
    try {
      return await inspectImages(this.paths.checkpointImages(checkpointId));
    } catch (error) {
      throw new FreezeframeError('images_missing', `the images of checkpoint ${checkpointId} cannot be read: ${(error as Error).message}`, {}, { cause: error });
    }
  }

  /** Writes a complete checkpoint as one gzip tar archive to file. */
  async exportCheckpoint(checkpointId: string, file: string): Promise<{ checkpoint: string; file: string; bytes: number }> {
    const checkpoint = await this.getCheckpoint(checkpointId);
    if (checkpoint.state !== 'complete') throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is ${checkpoint.state}: only a complete one can be exported`);
    // Under the desktop's lock: a delete or a restore (which writes its log and pidfile here) must wait.
    return this.exclusive(checkpoint.desktop, 'export', async () => {
      await writeSignedArchive(this.paths.checkpointDir(checkpointId), file, this.config.keyDir);
      return { checkpoint: checkpointId, file, bytes: (await stat(file)).size };
    });
  }

  /**
   * Imports an archive made by exportCheckpoint, here or on another machine set up the same way (the same state
   * folder: criu's images name the desktop's log and home by their full paths). Its desktop is created, stopped,
   * if this machine does not have it; then the checkpoint restores like any other.
   */
  async importCheckpoint(file: string): Promise<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }> {
    const dir = await unpackArchive(file, this.paths.imports());
    try {
      await verifyFolder(dir, this.config.keyDir);
      const record = await readJson<CheckpointRecord>(path.join(dir, 'checkpoint.json'));
      if (!record || !/^c-[a-f0-9]{8}$/.test(record.id) || !/^d-[a-f0-9]{8}$/.test(record.desktop) || record.state !== 'complete' || !record.desktopSpec) {
        throw new FreezeframeError('invalid', 'the archive holds no complete Freezeframe checkpoint');
      }
      await access(path.join(dir, 'images', 'inventory.img')).catch(() => {
        throw new FreezeframeError('invalid', 'the archive holds no images (images/inventory.img)');
      });
      if (await access(this.paths.checkpointDir(record.id)).then(() => true, () => false)) {
        throw new FreezeframeError('bad_state', `checkpoint ${record.id} is here already`);
      }
      const spec = record.desktopSpec;
      if (!Number.isInteger(spec.display) || spec.vncPort !== 5900 + spec.display) throw new FreezeframeError('invalid', 'the archive names an impossible display');
      if (typeof spec.vncPassword !== 'string' || !/^[A-Za-z0-9]{8}$/.test(spec.vncPassword)) throw new FreezeframeError('invalid', 'the archive holds no VNC password');
      // The view-only password came later: archives of older checkpoints have none, and are welcome.
      if (spec.vncViewPassword !== undefined && (typeof spec.vncViewPassword !== 'string' || !/^[A-Za-z0-9]{8}$/.test(spec.vncViewPassword))) {
        throw new FreezeframeError('invalid', 'the archive holds a malformed view-only VNC password');
      }
      try {
        checkCriuNeeds(spec.criu); // [catalog] what its presets needed of criu, passed to its next dumps
      } catch (error) {
        throw new FreezeframeError('invalid', `the archive's desktop: ${(error as Error).message}`);
      }
      let desktop = await readJson<DesktopRecord>(this.paths.desktopRecord(record.desktop));
      if (!desktop) {
        // The restored Xvnc reads its password from this file, by the path it had at the dump; its programs keep
        // the uid they had there, which may not be this machine's desktop user's.
        const owner = Number.isInteger(spec.uid) && Number.isInteger(spec.gid) && spec.uid! > 0 && spec.gid! > 0 ? { uid: spec.uid!, gid: spec.gid! } : this.user;
        await prepareDesktopFiles(this.desktopFiles(record.desktop), vncPasswordFile(spec.vncPassword, spec.vncViewPassword), owner);
        const at = now();
        desktop = await this.save({ id: record.desktop, ...spec, state: 'stopped', createdAt: at, updatedAt: at });
      }
      Object.assign(record, { importedAt: now(), logPath: this.paths.checkpointDumpLog(record.id) });
      await writeJsonAtomic(path.join(dir, 'checkpoint.json'), record);
      await rename(dir, this.paths.checkpointDir(record.id));
      return { checkpoint: record, desktop };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Deletes a checkpoint's images and record; refused while its desktop is at work. Returns the bytes freed. */
  async deleteCheckpoint(checkpointId: string): Promise<{ checkpoint: string; bytesFreed: number }> {
    const checkpoint = await this.getCheckpoint(checkpointId);
    return this.exclusive(checkpoint.desktop, 'delete checkpoint', async () => {
      const dir = this.paths.checkpointDir(checkpointId);
      const bytesFreed = await directoryBytes(dir);
      // The record goes first: a crash half-way leaves no record pointing at half the images.
      await unlink(this.paths.checkpointRecord(checkpointId));
      await rm(dir, { recursive: true, force: true });
      return { checkpoint: checkpointId, bytesFreed };
    });
  }
}

const transientDumpErrors = /in-flight|The socket has data to read/i;

async function isCriu(pid: number | undefined): Promise<boolean> {
  if (!pid || !(await identify(pid))) return false;
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'criu';
}

async function writeExclusive(file: string, content: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}
