// Where Freezeframe keeps its state and finds its programs; every path can be overridden from the environment.
import 'server-only';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLazyMinMb, type LazyMode } from '../lib/lazy';

export interface Config {
  /** The project's root (native/, vendor/). */
  rootDir: string;
  /** Desktops and checkpoints live here. */
  stateDir: string;
  /** This installation's signing key and the keys it trusts (checkpoints/keys.ts); root-only. */
  keyDir: string;
  criuPath: string;
  newnsPath: string;
  desktopScript: string;
  /** The unprivileged user every desktop's programs run as (scripts/install.sh creates it). */
  desktopUser: string;
  /** Display numbers handed out to desktops, inclusive. Xvnc :N listens on 5900 + N (and checks 6000 + N is free). */
  displays: { min: number; max: number };
  /**
   * New desktops are self-contained (server/desktops/rooms.ts: own network namespace, /tmp, home, display :1);
   * FREEZEFRAME_DESKTOPS=host starts them on a display and port of the host's, as before issue #12.
   */
  contained: boolean;
  /**
   * criu -v level (FREEZEFRAME_CRIU_LOG_LEVEL), 3 by default: the least that logs what the product reads (the verdict
   * lines are info lines, errors and warnings come at every level, each line timestamped from -v3). 4 adds criu's
   * debug lines (a Firefox restore's log: 51 000 lines, one write each), for a failure's investigation;
   * measured against 3 in the same runs: bench/results/resume-v3.md, lazy-v3-default.md.
   */
  criuLogLevel: 3 | 4;
  /**
   * The lazy-pages daemon's -v (FREEZEFRAME_CRIU_LAZY_LOG_LEVEL): at 4 it logs a line per page fault and per range
   * sent, and the pages it sent per process (uffd.c lazy_pages_summary, a debug line: the record's copiedPages).
   */
  criuLazyLogLevel: 3 | 4;
  /**
   * How dumps and restores run criu: 'swrk' (CRIU's RPC, a worker started ahead of time: criu/swrk.ts) or 'exec'
   * (the command line, a process spawned per operation). Both write and judge the same log.
   */
  criuRunner: 'swrk' | 'exec';
  /**
   * Checkpoints of a desktop share identical pages with a base (server/storage/dedup.ts, operations/tidy.ts): on
   * unless FREEZEFRAME_SHARE_PAGES=0. A desktop's newest checkpoint stays whole (criu's own images: the Restore
   * button and the auto-cycle restore it as fast as without sharing); an older one shares with its base once a
   * newer one exists, in the tidying after that checkpoint's reply. A shared checkpoint restores 1.2-1.35x slower
   * (criu reads its parent too). 20 checkpoints of the default desktop: 2.2x one. Measured: bench/results/storage.md.
   */
  sharePages: boolean;
  /** In a fleet (issue #14, server/fleet/): FREEZEFRAME_ETCD set. Unset: a single host, exactly as before. */
  fleet?: FleetConfig;
  /**
   * Lazy restores (lib/lazy.ts): what a restore that does not say does (FREEZEFRAME_LAZY=auto, on or off), and
   * from what image size 'auto' restores lazily (FREEZEFRAME_LAZY_MIN_MB). Unset, auto only with a criu built
   * with scripts/criu-patches/0002-lazy-pages-big-unmap.patch (its PATCHES file names it): without it, 1 in ~30
   * lazy restores of Firefox left criu lazy-pages spinning forever (the desktop then fails); off otherwise.
   */
  lazy: LazyMode;
  lazyMinBytes: number;
  /** criu's lazy restore premaps only what an eager one does (patch 0004, patchFiles): no premap check before 'auto'. */
  lazyInPlace: boolean;
  /**
   * A dump's first attempts refuse files in flight in a socket's queue (criu --refuse-fds-in-flight, when criu has
   * it): operations/checkpoint.ts dumpWithRetry.
   */
  refuseFdsInFlight: boolean;
}

export interface FleetConfig {
  /** etcd endpoints (FREEZEFRAME_ETCD, comma-separated). */
  etcd: string[];
  /** This host's name in the fleet (FREEZEFRAME_HOST_ID, default the machine's hostname). */
  hostId: string;
  /** How the other hosts reach this server (FREEZEFRAME_PUBLIC_URL); undefined: from HOST and PORT. */
  publicUrl?: string;
  /** The secret the fleet's hosts share (FREEZEFRAME_FLEET_KEY_FILE, 0600): host-to-host calls carry it. */
  keyFile?: string;
}

function loadFleetConfig(env: NodeJS.ProcessEnv): FleetConfig | undefined {
  const etcd = (env.FREEZEFRAME_ETCD ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  if (!etcd.length) return undefined;
  for (const url of etcd) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(url)) throw new Error(`FREEZEFRAME_ETCD: "${url}" is no etcd endpoint (http://address:port)`);
  }
  const hostId = env.FREEZEFRAME_HOST_ID ?? os.hostname().toLowerCase();
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(hostId)) throw new Error(`FREEZEFRAME_HOST_ID must be [a-z0-9][a-z0-9-]{0,62}, not "${hostId}"`);
  const publicUrl = env.FREEZEFRAME_PUBLIC_URL?.replace(/\/+$/, '');
  if (publicUrl !== undefined && !/^https?:\/\/[^/\s]+$/.test(publicUrl)) throw new Error(`FREEZEFRAME_PUBLIC_URL must look like http://10.0.0.2:3000, not "${publicUrl}"`);
  return { etcd, hostId, publicUrl, keyFile: env.FREEZEFRAME_FLEET_KEY_FILE || undefined };
}

/** The patches of scripts/criu-patches criu was built with (bin/criu's folder's PATCHES, scripts/build-criu.sh); '' unknown. */
function criuPatches(criuPath: string): string {
  try {
    return readFileSync(path.join(path.dirname(path.dirname(realpathSync(criuPath))), 'PATCHES'), 'utf8');
  } catch {
    return '';
  }
}

/**
 * The patches the engine acts on:
 * - lazyPages: the lazy-pages daemon never spins on a big unmap ('auto' lazy restores only with it);
 * - inPlace: a lazy restore maps private mappings in place, as an eager one does: it premaps no more than an eager
 *   restore, so any images an eager restore can map, a lazy one can (criu/lazyPages.ts premapFits);
 * - refuseFdsInFlight: criu dump takes --refuse-fds-in-flight (operations/checkpoint.ts dumpWithRetry).
 */
const patchFiles = {
  lazyPages: '0002-lazy-pages-big-unmap.patch',
  inPlace: '0004-lazy-restore-in-place.patch',
  refuseFdsInFlight: '0005-dump-refuse-fds-in-flight.patch',
} as const;

/** Whether criu was built with the lazy-pages patch. */
export const lazyPagesPatched = (criuPath: string) => criuPatches(criuPath).includes(patchFiles.lazyPages);

function parseLazyMode(text: string): LazyMode {
  if (text === 'auto') return 'auto';
  if (text === 'on' || text === '1' || text === 'true') return true;
  if (text === 'off' || text === '0' || text === 'false') return false;
  throw new Error('FREEZEFRAME_LAZY must be auto, on or off');
}

const defaultRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const rootDir = env.FREEZEFRAME_ROOT ?? defaultRoot;
  const vendorCriu = path.join(rootDir, 'vendor/criu/bin/criu');
  const [min, max] = (env.FREEZEFRAME_DISPLAYS ?? '20-99').split('-').map(Number);
  // Up to 499 (VNC ports up to 6399): past 99 they meet X11's TCP ports (6000 + N), which Xvnc does not open (it
  // listens on unix sockets only by default) and which the allocator checks are free anyway.
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 499 || min > max) {
    throw new Error(`FREEZEFRAME_DISPLAYS must look like 20-99 (1..499), not "${env.FREEZEFRAME_DISPLAYS}"`);
  }
  const level = Number(env.FREEZEFRAME_CRIU_LOG_LEVEL ?? 3);
  if (level !== 3 && level !== 4) throw new Error('FREEZEFRAME_CRIU_LOG_LEVEL must be 3 or 4');
  const lazyLevel = Number(env.FREEZEFRAME_CRIU_LAZY_LOG_LEVEL ?? 4);
  if (lazyLevel !== 3 && lazyLevel !== 4) throw new Error('FREEZEFRAME_CRIU_LAZY_LOG_LEVEL must be 3 or 4');
  const runner = env.FREEZEFRAME_CRIU_RUNNER ?? 'swrk';
  if (runner !== 'swrk' && runner !== 'exec') throw new Error('FREEZEFRAME_CRIU_RUNNER must be swrk or exec');
  const criuPath = env.FREEZEFRAME_CRIU ?? (existsSync(vendorCriu) ? vendorCriu : 'criu');
  // Read once: the patches it was built with decide what the engine asks of it.
  const patches = criuPatches(criuPath);
  return {
    rootDir,
    stateDir: env.FREEZEFRAME_STATE_DIR ?? '/var/lib/freezeframe',
    keyDir: env.FREEZEFRAME_KEY_DIR ?? '/etc/freezeframe',
    criuPath,
    newnsPath: path.join(rootDir, 'native/newns'),
    desktopScript: path.join(rootDir, 'native/desktop.sh'),
    desktopUser: env.FREEZEFRAME_DESKTOP_USER ?? 'freezeframe-desktop',
    displays: { min, max },
    criuLogLevel: level,
    criuLazyLogLevel: lazyLevel,
    contained: (env.FREEZEFRAME_DESKTOPS ?? 'contained') !== 'host',
    criuRunner: runner,
    sharePages: env.FREEZEFRAME_SHARE_PAGES !== '0',
    fleet: loadFleetConfig(env),
    lazy: parseLazyMode(env.FREEZEFRAME_LAZY ?? (patches.includes(patchFiles.lazyPages) ? 'auto' : 'off')),
    lazyMinBytes: Math.round(Number(env.FREEZEFRAME_LAZY_MIN_MB ?? defaultLazyMinMb) * 1024 * 1024),
    lazyInPlace: patches.includes(patchFiles.inPlace),
    refuseFdsInFlight: patches.includes(patchFiles.refuseFdsInFlight),
  };
}
