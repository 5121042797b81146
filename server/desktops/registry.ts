// The desktops: a facade over their operations (operations/), records (store.ts), display claims (displays.ts),
// locks (lock.ts) and reconcile (reconcile.ts); what the server, the CLI and the tests hold.
import 'server-only';
import { EventEmitter } from 'node:events';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config';
import type { Inspection } from '../checkpoints/inspect';
import { realCollaborators, type Collaborators } from './collaborators';
import { makeSearchable, type DesktopUser } from './desktopUser';
import { UidClaims } from './uids';
import { DisplayClaims } from './displays';
import type { DesktopEvent } from './events';
import { OperationLocks } from './lock';
import type { CheckpointOptions, Serving } from './operations/checkpoint';
import type { CloneOptions, Cloned } from './operations/clone';
import type { OperationContext } from './operations/context';
import { Reconciler } from './operations/reconcile';
import { sweepRooms, type Swept } from './operations/sweep';
import type { RestoreOptions, Restored } from './operations/restore';
import type { StartOptions } from './operations/start';
import { stopDesktop } from './operations/stop';
import { Paths, type CheckpointRecord, type DesktopRecord } from './records';
import { RecordStore } from './store';
import { vncTargetOf } from './rooms';
import type { VncTarget } from '../vnc/target';

import type { RetentionPolicy } from '../../lib/retention';
import { FreezeframeError } from '../errors';
import type { Removed } from './operations/remove';
import type { Tidied } from './operations/tidy';
import { trace } from '../trace';
import { lazyModule } from '../lazyModule';
import type { ImportOptions } from './operations/transfer';

export type { CheckpointOptions, CloneOptions, Cloned, RestoreOptions, StartOptions, Removed, Tidied };

// The operations that run criu, the launcher or tar are loaded at their first use: a CLI call runs one operation,
// and `freezeframe list` none of them (bench/cli.mts).
const starting = lazyModule(() => import('./operations/start'));
const checkpointing = lazyModule(() => import('./operations/checkpoint'));
const restoring = lazyModule(() => import('./operations/restore'));
const transferring = lazyModule(() => import('./operations/transfer'));
const cloning = lazyModule(() => import('./operations/clone'));
const tidying = lazyModule(() => import('./operations/tidy'));
const retaining = lazyModule(() => import('./operations/retention'));
const removing = lazyModule(() => import('./operations/remove'));
const moving = lazyModule(() => import('./operations/moved'));

export class Desktops extends EventEmitter<{ event: [DesktopEvent]; resumed: [DesktopEvent] }> {
  readonly paths: Paths;
  private readonly store: RecordStore;
  private readonly context: OperationContext;
  private readonly reconciler: Reconciler;
  private user?: DesktopUser;

  constructor(
    readonly config: Config,
    private readonly deps: Collaborators = realCollaborators(config),
  ) {
    super();
    this.paths = new Paths(config.stateDir);
    this.store = new RecordStore(this.paths, deps.clock);
    this.context = {
      config, deps, paths: this.paths, store: this.store,
      displays: new DisplayClaims(this.paths, config.displays, deps.ports.isFree),
      locks: new OperationLocks(this.paths.desktopLock),
      uids: new UidClaims(this.paths.uidClaims()),
      user: () => {
        if (!this.user) throw new Error('Desktops.init() has not run');
        return this.user;
      },
      emit: (event) => this.emit('event', event),
      resumed: (event) => this.emit('resumed', event),
      thumbnails: new Map(),
    };
    this.reconciler = new Reconciler(this.context);
  }

  async init(): Promise<void> {
    this.user = await this.deps.desktopUser(this.config.desktopUser);
    // The desktops' programs reach their homes (desktops/<id>/home) through these two, without listing them.
    await mkdir(this.paths.desktops(), { recursive: true, mode: 0o711 });
    await makeSearchable(this.config.stateDir);
    await makeSearchable(this.paths.desktops());
    await mkdir(this.paths.checkpoints(), { recursive: true, mode: 0o700 });
    await mkdir(path.dirname(this.paths.displayClaim(0)), { recursive: true, mode: 0o700 });
    // A page sharing a crash interrupted is finished or undone (storage/dedup.ts) before anything is restored.
    const { readdir } = await import('node:fs/promises');
    const { recoverImages } = await import('../storage/dedup');
    await Promise.all((await readdir(this.paths.checkpoints())).map((name) => recoverImages(this.paths.checkpointImages(name))));
    await this.list();
  }

  /**
   * What the server (not the CLI, which runs one operation and exits) keeps ready so a dump and a restore start at
   * once: a criu worker waiting (criu/swrk.ts), and each running desktop's screen (vnc/screenKeeper.ts), so a
   * checkpoint's thumbnail needs no screen read before the freeze; each new checkpoint's images decoded for the
   * trust check after the reply (criu/trust.ts), so its restore only judges them.
   */
  async keepReady(): Promise<void> {
    this.deps.keepCriuWaiting?.();
    this.deps.keepTrustWarm?.();
    // Not in init(): the CLI runs one operation and exits; the server, long-lived, owns the cleanup.
    const swept = await this.sweep();
    if (swept.namespaces.length || swept.homes.length) {
      console.warn(`freezeframe: forgot ${swept.namespaces.length} network namespace(s) and ${swept.homes.length} home(s) no desktop needs: ${[...swept.namespaces, ...swept.homes].join(', ')}`);
    }
    const follow = this.deps.screen.follow;
    if (!follow) return;
    // A contained desktop's screen is read inside its namespace.
    const where = (d: DesktopRecord) => ({ ...d, netnsPath: vncTargetOf(this.paths, d).netnsPath });
    this.on('event', (event) => follow(where(event.desktop)));
    for (const desktop of await this.list()) follow(where(desktop));
  }

  /** Forgets the namespaces and overlay homes of this state folder that no desktop needs (operations/sweep.ts). */
  sweep(): Promise<Swept> {
    return sweepRooms(this.context);
  }

  /** Whether this very version of a record was written by this process (see recordFollower.ts). */
  wroteLast(record: DesktopRecord): boolean {
    return this.store.wroteLast(record);
  }

  /** Emits an event observed on disk, for a change another process (the CLI) made. */
  publish(event: DesktopEvent): void {
    this.emit('event', event);
  }

  /** The desktop as it really is: a record whose tree died meanwhile is brought in line first. */
  async get(id: string): Promise<DesktopRecord> {
    return this.reconciler.reconcile(await this.store.load(id));
  }

  async list(): Promise<DesktopRecord[]> {
    return Promise.all((await this.store.all()).map((r) => this.reconciler.reconcile(r)));
  }

  /** Where a viewer connects to the desktop's Xvnc; undefined when it is unknown, stopped or being stopped. */
  async vncTarget(id: string): Promise<VncTarget | undefined> {
    const d = await this.get(id).catch(() => undefined);
    // A desktop being stopped takes no new viewers: its Xvnc is about to die.
    return d && d.state !== 'stopped' && d.state !== 'stopping' ? vncTargetOf(this.paths, d) : undefined;
  }

  /** The PNG of the screen at a checkpoint's freeze (written just after its reply: waited for), if it has one. */
  async thumbnail(checkpointId: string): Promise<string | undefined> {
    const checkpoint = await this.store.getCheckpoint(checkpointId);
    const file = this.paths.checkpointThumbnail(checkpoint.id);
    // Being written: its outcome, before the record says so.
    const pending = this.context.thumbnails.get(checkpoint.id);
    const made = pending ? await pending : checkpoint.thumbnail;
    return made && (await access(file).then(() => true, () => false)) ? file : undefined;
  }

  getCheckpoint(id: string): Promise<CheckpointRecord> {
    return this.store.getCheckpoint(id);
  }

  checkpoints(desktopId?: string): Promise<CheckpointRecord[]> {
    return this.store.checkpoints(desktopId);
  }

  async start(options: StartOptions = {}): Promise<DesktopRecord> {
    return (await starting()).startDesktop(this.context, options);
  }

  /**
   * A checkpoint, then its follow-up under the same lock (a frozen contained desktop's home copied for clones, the
   * tidying: pages shared, the retention policy applied: operations/tidy.ts), which a restore meanwhile waits for.
   * replyFirst: hands the checkpoint back before the follow-up ends (the server's API and actions: the follow-up is
   * off the reply's path; what the policy removed reaches the pages by the 'pruned' event); otherwise waits for it
   * (the CLI, which exits once it has printed, and the tests).
   */
  async checkpoint(id: string, options: CheckpointOptions & { replyFirst?: boolean } = {}): Promise<{ desktop: DesktopRecord; checkpoint: CheckpointRecord; tidied?: Tidied; serving?: Serving }> {
    const t = trace(`checkpoint+tidy ${id}`);
    const made = await (await checkpointing()).checkpointDesktop(this.context, id, options);
    t.step('checkpoint');
    if (options.replyFirst) {
      made.followUp.then(() => t.done('(follow-up after the reply)'), (error: unknown) => console.error(`the follow-up of checkpoint ${made.checkpoint.id} failed:`, error));
      return { desktop: made.desktop, checkpoint: made.checkpoint, serving: made.serving };
    }
    const tidied = await made.followUp;
    const checkpoint = await this.store.getCheckpoint(made.checkpoint.id).catch(() => made.checkpoint);
    const desktop = await this.store.load(id);
    t.step('follow-up, reload');
    t.done();
    return { desktop, checkpoint, tidied, serving: made.serving };
  }

  /** Shares the pages of the desktop's new checkpoints and applies its retention policy (after each checkpoint). */
  async tidy(id: string): Promise<Tidied> {
    return (await tidying()).tidyDesktop(this.context, id);
  }

  async setRetention(id: string, policy: RetentionPolicy): Promise<{ desktop: DesktopRecord } & Tidied> {
    return (await retaining()).setRetention(this.context, id, policy);
  }

  async pin(checkpointId: string, pinned: boolean): Promise<{ checkpoint: CheckpointRecord }> {
    return (await retaining()).pinCheckpoint(this.context, checkpointId, pinned);
  }

  /** Removes a stopped desktop with its checkpoints; says how many bytes that freed. */
  async remove(id: string): Promise<Removed> {
    return (await removing()).removeDesktop(this.context, id);
  }

  async restore(checkpointId: string, options: RestoreOptions = {}): Promise<Restored> {
    return (await restoring()).restoreCheckpoint(this.context, checkpointId, options);
  }

  /** N new desktops restored from one checkpoint at once (a contained desktop's), each independent of the others. */
  async clone(checkpointId: string, options: CloneOptions = {}): Promise<Cloned> {
    return (await cloning()).cloneCheckpoint(this.context, checkpointId, options);
  }

  stop(id: string): Promise<DesktopRecord> {
    return stopDesktop(this.context, id);
  }

  async inspect(checkpointId: string): Promise<Inspection> {
    return (await transferring()).inspectCheckpoint(this.context, checkpointId);
  }

  /** level: zstd's (3 by default; a move, whose archive crosses a LAN once, asks for less). */
  async exportCheckpoint(checkpointId: string, file: string, options?: { level?: number }): Promise<{ checkpoint: string; file: string; bytes: number }> {
    return (await transferring()).exportCheckpoint(this.context, checkpointId, file, options);
  }

  async importCheckpoint(file: string, options?: ImportOptions): Promise<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }> {
    return (await transferring()).importCheckpoint(this.context, file, options);
  }

  /** importCheckpoint of an archive already unpacked (and checked) into dir, which is consumed. */
  async importFolder(dir: string, options?: ImportOptions): Promise<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }> {
    return (await transferring()).importFolder(this.context, dir, options);
  }

  /** A frozen desktop's move under way to host (undefined: no more), so a restart knows to ask (operations/moved.ts). */
  async markMoving(id: string, checkpointId: string, host: string | undefined): Promise<DesktopRecord> {
    return (await moving()).markMoving(this.context, id, checkpointId, host);
  }

  /** The source's end of a move: the desktop, frozen at checkpointId, lives on host now (operations/moved.ts). */
  async forgetMoved(id: string, host: string, checkpointId: string): Promise<DesktopRecord> {
    return (await moving()).forgetMoved(this.context, id, host, checkpointId);
  }

  /** After a post-copy move's dump ended (its frozen tree gone): the room's overlay home, busy until then, unmounted. */
  async releaseMovedRoom(id: string): Promise<void> {
    return (await moving()).releaseMovedRoom(this.context, id);
  }

  async deleteCheckpoint(checkpointId: string): Promise<{ checkpoint: string; bytesFreed: number }> {
    return (await transferring()).deleteCheckpoint(this.context, checkpointId);
  }
}
