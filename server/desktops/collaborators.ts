// What the desktops' operations work with, passed in (as createBridge takes its lookup): the real programs in the
// server and the CLI; stand-ins in the unit tests of the failure paths (test/operations.test.ts), which need no root.
import 'server-only';
import { readFile, stat } from 'node:fs/promises';
import type { Config } from '../config';
import type { CriuOptions } from '../criu/options';
import type { Expected } from '../criu/trustRules';
import type { TrustPart } from '../criu/trust';
import { runCriu, type CriuResult } from '../criu/run';
import { premapFits, startLazyPages, type LazyDaemon } from '../criu/lazyPages';
import { startLazyDump, type LazyDump } from '../criu/lazyDump';
import { forgetWorker, keepWorkerWaiting, prepareWorker } from '../criu/swrk';
import type { Screen } from '../vnc/thumbnail';
import type { KeptDesktop, ScreenKeeper } from '../vnc/screenKeeper';
import { removeCriuRules, removeXLeftovers } from './cleanup';
import { lookUpDesktopUser, prepareDesktopFiles, type DesktopUser } from './desktopUser';
import { launchDesktop, type LaunchSpec } from './launcher';
import { waitForLogLine } from './logs';
import { isPortFree, waitForPort } from './net';
import { isMountPoint, prepareRoomFiles, type Room } from './rooms';
import { adoptRoot, identify, isAlive, signal, treeIdentities, treePids, waitForExit, waitForExiting, type ProcessIdentity } from './processes';
import { lazyModule } from '../lazyModule';
import { hasLazyPages } from '../storage/pagemap';

export interface Collaborators {
  /** Starts a lazy restore's `criu lazy-pages` daemon; resolves once it listens in workDir (criu/lazyPages.ts). */
  lazyPages(options: { imagesDir: string; workDir: string; logPath: string; pageServer?: { address: string; port: number } }): Promise<LazyDaemon>;
  /**
   * A post-copy move's dump (criu/lazyDump.ts): resolves once its images are complete and it serves the lazy pages
   * on address:port, until a `criu lazy-pages` has fetched them all. Absent: no lazy move from this host.
   */
  lazyDump?(options: CriuOptions, onSpawn: (pid: number) => void | Promise<void>): Promise<LazyDump>;
  /** Whether criu could premap every private mapping of these images, as a lazy restore needs (criu/lazyPages.ts). */
  premapFits(imagesDir: string): Promise<boolean>;
  /** criu dump or restore; onSpawn gets criu's PID as soon as it runs. */
  criu(op: 'dump' | 'restore', options: CriuOptions, onSpawn: (pid: number) => void | Promise<void>, inheritFds?: number[], workerKey?: string): Promise<CriuResult>;
  /**
   * A criu worker started now, holding fds (a frozen desktop's kept namespace), for the operation that will name
   * key (criu/swrk.ts prepareWorker); the fds stay the caller's. Absent: each such operation starts its own.
   */
  prepareCriu?(key: string, fds: number[]): void;
  /** Lets the worker prepared for key go (its desktop stopped). */
  forgetCriu?(key: string): void;
  /** Starts a desktop's tree (newns); the host PID of its root. */
  launch(spec: LaunchSpec): Promise<number>;
  processes: {
    identify(pid: number): Promise<ProcessIdentity | undefined>;
    isAlive(id: ProcessIdentity | undefined): Promise<boolean>;
    treePids(pid: number): Promise<number[]>;
    waitForExit<P extends number | ProcessIdentity>(procs: P[], timeoutMs: number): Promise<P[]>;
    treeIdentities(pid: number): Promise<ProcessIdentity[]>;
    /** Waits until no process of the tree at pid is half-way out (its leader a zombie, threads left); those still are. */
    waitForExiting(pid: number, timeoutMs: number): Promise<number[]>;
    signal(pid: number, sig: NodeJS.Signals | 0): boolean;
    adoptRoot(root: ProcessIdentity): void;
    /** Whether pid is a live criu (a dump or restore whose server died, still at work). */
    isCriu(pid: number | undefined): Promise<boolean>;
  };
  /** What criu and a dead Xvnc leave behind: CRIU's DROP rules for a port, X's lock and socket for a display. */
  cleanup: {
    removeCriuRules(port: number): Promise<unknown>;
    removeXLeftovers(display: number): Promise<unknown>;
  };
  ports: {
    isFree(port: number): Promise<boolean>;
    waitFor(port: number, options: { timeoutMs: number; stillWorthWaiting: () => Promise<boolean> }): Promise<void>;
  };
  waitForLogLine(file: string, marker: string, options: { timeoutMs: number; stillWorthWaiting: () => Promise<boolean> }): Promise<void>;
  screen: {
    /** The desktop's screen now (or as kept, at most a throttle old), our VNC connection to it closed. */
    capture(desktop: KeptDesktop): Promise<Screen>;
    writeThumbnail(screen: Screen, file: string): Promise<void>;
    /** Told of every desktop's state as it changes, once the screens are kept (Desktops.keepScreens). */
    follow?(desktop: KeptDesktop): void;
  };
  /** From now on a criu worker waits for the next dump or restore (criu/swrk.ts): the server's, not the CLI's. */
  keepCriuWaiting?(): void;
  /** Refuses (untrusted_images) images that ask for more than their desktop may have: criu restores them as root. */
  trustImages(imagesDir: string, checkpointId: string, expected: Expected, parts?: readonly TrustPart[]): Promise<void>;
  /** From now on a new checkpoint's images are decoded for the trust check in its follow-up (criu/trust.ts): the server's. */
  keepTrustWarm?(): void;
  /** Reads a checkpoint's images ahead of its restore (trust check, lazy-pages guard), if keepTrustWarm was called; never fails. */
  warmTrust?(imagesDir: string): Promise<void>;
  /** Keeps the mounts a just-launched tree has (launchMounts.ts), which its checkpoints may name at restore. */
  saveLaunchMounts(pid: number, file: string): Promise<void>;
  desktopUser(name: string): Promise<DesktopUser>;
  /** A self-contained desktop's room (rooms.ts): its kept network namespace, its folders, its overlay home. */
  rooms: {
    prepare: typeof prepareRoomFiles;
    /** A fresh network namespace (with only `lo`, up) of that name: one left by an earlier life is deleted first. */
    createNetns(name: string): Promise<{ inode: number }>;
    deleteNetns(name: string): Promise<void>;
    /** The namespace's inode (criu's key for it at dump), undefined when there is none of that name. */
    netnsInode(name: string): Promise<number | undefined>;
    /** The home as it is now into a checkpoint's home-base (the tree stopped, or frozen by criu). */
    copyHomeBase(home: string, base: string): Promise<void>;
    /** Mounts the room's home as an overlay over base, unless it is mounted already. */
    mountHome(base: string, room: Room): Promise<void>;
    /** Unmounts the room's overlay home, if it is one (its upper folder keeps what the desktop wrote). */
    unmountHome(room: Room): Promise<void>;
  };
  /** The desktop's folder, home and VNC password file, owned as its programs need them (a chown: root's). */
  prepareDesktopFiles: typeof prepareDesktopFiles;
  clock: { now(): string };
}

async function isCriu(pid: number | undefined): Promise<boolean> {
  if (!pid || !(await identify(pid))) return false;
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'criu';
}

// Loaded at first use (a CLI list needs none of them), then kept (lazyModule.ts).
const thumbnails = lazyModule(() => import('../vnc/thumbnail'));
const trust = lazyModule(() => import('../criu/trust'));
const launchMounts = lazyModule(() => import('./launchMounts'));
const netns = lazyModule(() => import('../sandbox/netns'));
const overlayHome = lazyModule(() => import('../sandbox/overlayHome'));

/**
 * Screens read over VNC: at the checkpoint (the CLI, the tests), or kept by the server all along
 * (vnc/screenKeeper.ts) once follow() has been called, the kept picture then taken at the checkpoint.
 */
function keptScreens(): Collaborators['screen'] {
  let keeper: Promise<ScreenKeeper> | undefined;
  return {
    capture: async (desktop) => {
      const kept = await (await keeper)?.take(desktop.id);
      return kept ?? (await thumbnails()).captureScreen({ port: desktop.vncPort, netnsPath: desktop.netnsPath }, desktop.vncPassword);
    },
    writeThumbnail: async (screen, file) => (await thumbnails()).writeThumbnailOf(screen, file),
    follow: (desktop) => {
      keeper ??= import('../vnc/screenKeeper').then(({ ScreenKeeper }) => new ScreenKeeper());
      void keeper.then((k) => k.follow(desktop));
    },
  };
}

export function realCollaborators(config: Config): Collaborators {
  let trustWarm = false;
  return {
    // With fds to inherit (a contained desktop's namespace): over RPC by a worker holding them (criu/run.ts).
    criu: (op, options, onSpawn, inheritFds, workerKey) => runCriu(config.criuPath, op, options, { onSpawn, inheritFds, workerKey, runner: config.criuRunner }),
    prepareCriu: (key, fds) => {
      if (config.criuRunner === 'swrk') prepareWorker(config.criuPath, key, fds);
    },
    forgetCriu: (key) => forgetWorker(config.criuPath, key),
    keepCriuWaiting: () => {
      if (config.criuRunner === 'swrk') keepWorkerWaiting(config.criuPath);
    },
    // The level read at each start: a bench compares levels on one engine by changing its config between restores.
    lazyPages: (options) => startLazyPages(config.criuPath, { logLevel: config.criuLazyLogLevel, ...options }),
    lazyDump: (options, onSpawn) => startLazyDump(config.criuPath, options, { onSpawn }),
    // With criu's in-place lazy restore (patch 0004) a lazy restore premaps what an eager one would: nothing to check.
    premapFits: config.lazyInPlace ? async () => true : premapFits,
    launch: (spec) => launchDesktop(config, spec),
    processes: { identify, isAlive, treePids, treeIdentities, waitForExit, waitForExiting, signal, adoptRoot, isCriu },
    cleanup: { removeCriuRules, removeXLeftovers },
    ports: { isFree: (port) => isPortFree(port), waitFor: waitForPort },
    waitForLogLine,
    screen: keptScreens(),
    // Loaded at first use, like the thumbnail's VNC client and PNG encoder: a CLI list needs neither.
    trustImages: async (...args) => (await trust()).assertTrustedImages(...args),
    keepTrustWarm: () => {
      trustWarm = true;
    },
    warmTrust: async (dir) => {
      if (!trustWarm) return;
      await (await trust()).warmTrust(dir);
      // The lazy-pages guard's read too (storage/pagemap.ts), the images settled by now.
      await hasLazyPages(dir).catch(() => {});
    },
    saveLaunchMounts: async (pid, file) => (await launchMounts()).saveLaunchMounts(pid, file),
    desktopUser: lookUpDesktopUser,
    prepareDesktopFiles,
    rooms: {
      prepare: prepareRoomFiles,
      createNetns: async (name) => {
        const { createNetns, deleteNetns, netnsPath } = await netns();
        // Only when there is one: `ip netns delete` is a process of its own, on a clone's critical path (the
        // namespace is the longest of its room's three steps: ip twice, against one mount and a few files).
        if (await stat(netnsPath(name)).then(() => true, () => false)) await deleteNetns(name).catch(() => {});
        return createNetns(name);
      },
      deleteNetns: async (name) => (await netns()).deleteNetns(name),
      netnsInode: async (name) => {
        const { netnsPath } = await netns();
        return (await stat(netnsPath(name)).catch(() => undefined))?.ino;
      },
      copyHomeBase: async (home, base) => (await overlayHome()).copyHomeBase(home, base),
      mountHome: async (base, room) => {
        if (!(await isMountPoint(room.home))) await (await overlayHome()).mountCloneHome(base, room.dir);
      },
      unmountHome: async (room) => {
        if (await isMountPoint(room.home)) await (await overlayHome()).unmountCloneHome({ merged: room.home, upper: room.upper, work: room.work });
      },
    },
    clock: { now: () => new Date().toISOString() },
  };
}
