// What is kept on disk about desktops and checkpoints, and where.
import path from 'node:path';
import type { ErrorCode } from '../../lib/errorCodes';
import type { DumpStats, RestoreStats } from '../criu/images';
import type { AppCriuNeeds } from '../../lib/presets';
import type { DesktopState } from '../../lib/states';
import type { RetentionPolicy } from '../../lib/retention';

export interface ErrorInfo {
  message: string;
  code: ErrorCode;
  /** CRIU's own words: its exit code, first Error lines, and log. */
  exitCode?: number;
  errors?: string[];
  logPath?: string;
  hint?: string;
}

export interface OperationInfo {
  kind: 'start' | 'dump' | 'restore' | 'stop';
  checkpoint?: string;
  startedAt: string;
  ms?: number;
  ok?: boolean;
  /** The criu command line (a dump's from the moment criu starts: the presenter shows it as it runs). */
  command?: string[];
  /** The verdict line of criu's log when it succeeded ("Dumping finished successfully"). */
  verdict?: string;
  /** criu's PID while it runs: after a crash of the server, a criu still at work is waited for, not judged. */
  criuPid?: number;
}

export interface DesktopRecord {
  id: string;
  /**
   * contained: a desktop in a room of its own (rooms.ts): its own network namespace, /tmp, home and run folder at
   * fixed paths, display :1 and port 5901 inside. host (or absent, records from before): a display and VNC port of
   * the host's.
   */
  kind?: 'host' | 'contained';
  /** A contained desktop's home is an overlay over this checkpoint's home-base (a clone): never a shared write. */
  homeBase?: string;
  display: number;
  vncPort: number;
  geometry: string;
  apps: string[];
  /** The VNC password of this desktop's Xvnc, known only to the server and the (authenticated) page. */
  vncPassword: string;
  /**
   * The view-only VNC password (the second one in vnc.passwd): Xvnc ignores the input of a viewer that used it.
   * What the audience page gets. Absent on desktops started before audience links existed.
   */
  vncViewPassword?: string;
  /** The uid and gid its programs run as (the desktop user's when it was started; a restore keeps them). */
  uid?: number;
  gid?: number;
  /**
   * A contained desktop whose uid is its own (server/desktops/uids.ts: claimed from a reserved range, released on
   * remove; a clone shares its checkpoint's), named `desktop` inside by a generated /etc/passwd bound there.
   * Absent: it runs as this installation's desktop user, as every desktop did before.
   */
  ownUser?: boolean;
  state: DesktopState;
  /** Host PID of the tree's root (PID 1 of its namespace) and its start time, while it is meant to be alive. */
  pid?: number;
  pidStartTime?: string;
  createdAt: string;
  updatedAt: string;
  /** Set when the state is failed, or an operation failed and left the desktop where it was. */
  lastError?: ErrorInfo;
  lastOperation?: OperationInfo;
  lastCheckpoint?: string;
  /** What its apps need of criu (lib/presets.ts), passed to every dump; absent when they need nothing. */
  criu?: AppCriuNeeds;
  /** Which checkpoints are removed after each checkpoint (lib/retention.ts); none without one. */
  retention?: RetentionPolicy;
  /** Moved to another host of the fleet (server/fleet/move.ts): it lives there now; stopped here, its room freed. */
  movedTo?: { host: string; at: string; checkpoint: string };
  /**
   * Frozen for a move to host, its archive on the way (server/fleet/move.ts): a restart of this server in the middle
   * asks that host whether the desktop runs there (server/fleet/recover.ts) before anything restores it here.
   */
  moving?: { host: string; at: string; checkpoint: string };
  /**
   * After a lazy restore, until its lazy-pages daemon has sent the last page (server/desktops/operations/pages.ts):
   * the daemon's PID and start time, its log, and the checkpoint whose images it reads. While set, the tree's
   * memory is partly still in those images: no dump of it, no removal of them.
   */
  fetching?: { pid: number; startTime: string; logPath: string; checkpoint: string };
}

export interface RestoreInfo {
  at: string;
  ms: number;
  ok: boolean;
  logPath: string;
  command: string[];
  error?: ErrorInfo;
  /** CRIU's own figures for this restore (stats-restore). */
  stats?: RestoreStats;
  /**
   * A lazy restore (`criu restore --lazy-pages`): its lazy-pages daemon's log and, once the daemon has exited,
   * how long it took from the restore's start, the pages it sent, and whether it ended well.
   */
  lazy?: { logPath: string; ms?: number; copiedPages?: number; totalPages?: number; ok?: boolean; errors?: string[] };
}

export interface CheckpointRecord {
  id: string;
  desktop: string;
  createdAt: string;
  /** dumping: criu is (or was, when the server died) at work; failed: the dump did not complete. */
  state: 'dumping' | 'complete' | 'failed';
  leaveRunning: boolean;
  dumpMs?: number;
  imageBytes?: number;
  /** CRIU's own figures for the dump (stats-dump): freezing, frozen, memdump, memwrite times; pages. */
  dumpStats?: DumpStats;
  command: string[];
  logPath: string;
  /** The desktop it was taken of, enough to recreate its record where the checkpoint is imported. */
  desktopSpec?: Pick<DesktopRecord, 'kind' | 'display' | 'vncPort' | 'geometry' | 'apps' | 'vncPassword' | 'vncViewPassword' | 'uid' | 'gid' | 'ownUser' | 'criu'>;
  /** A contained desktop's home as it was at the dump (home-base/): what each clone's home overlays. */
  homeBase?: boolean;
  /** When it was imported from an archive, if it was. */
  importedAt?: string;
  /** Whether thumbnail.png (the screen just before the dump) was taken. */
  thumbnail?: boolean;
  error?: ErrorInfo;
  /** criu's reason for each dump attempt that was tried again (a connection in flight, a process caught exiting). */
  retried?: string[];
  restores: RestoreInfo[];
  /** Never removed by the retention policy. */
  pinned?: boolean;
  /** The checkpoint whose images hold the pages this one shares (server/storage/dedup.ts); none: whole images. */
  base?: string;
  /** Bytes its folder takes on disk once its pages are shared and its logs packed (imageBytes: what criu wrote). */
  storedBytes?: number;
  /**
   * Whole while it is its desktop's newest (the one a Restore and the auto-cycle bring back, as fast as criu's own
   * images); its pages are shared with a base at the first tidying after a newer one is made (operations/tidy.ts).
   */
  shareLater?: boolean;
}

export class Paths {
  constructor(readonly stateDir: string) {}
  desktops = () => path.join(this.stateDir, 'desktops');
  desktopDir = (id: string) => path.join(this.stateDir, 'desktops', id);
  desktopRecord = (id: string) => path.join(this.desktopDir(id), 'desktop.json');
  desktopLog = (id: string) => path.join(this.desktopDir(id), 'desktop.log');
  desktopHome = (id: string) => path.join(this.desktopDir(id), 'home');
  desktopPasswordFile = (id: string) => path.join(this.desktopDir(id), 'vnc.passwd');
  desktopLock = (id: string) => path.join(this.desktopDir(id), 'operation.lock');
  /** The mounts its tree had at launch (launchMounts.ts): never part of an archive, so never imported. */
  desktopLaunchMounts = (id: string) => path.join(this.desktopDir(id), 'mounts.json');
  checkpoints = () => path.join(this.stateDir, 'checkpoints');
  checkpointDir = (id: string) => path.join(this.stateDir, 'checkpoints', id);
  checkpointRecord = (id: string) => path.join(this.checkpointDir(id), 'checkpoint.json');
  checkpointImages = (id: string) => path.join(this.checkpointDir(id), 'images');
  checkpointDumpLog = (id: string) => path.join(this.checkpointDir(id), 'dump.log');
  checkpointRestoreLog = (id: string, n: number) => path.join(this.checkpointDir(id), `restore-${n}.log`);
  /** The desktop's log as it was at the dump: put back before each restore (see restore). */
  checkpointDesktopLog = (id: string) => path.join(this.checkpointDir(id), 'desktop.log');
  /** A contained desktop's home as the images' open files knew it, copied at the dump (rooms.ts, clone). */
  checkpointHomeBase = (id: string) => path.join(this.checkpointDir(id), 'home-base');
  checkpointThumbnail = (id: string) => path.join(this.checkpointDir(id), 'thumbnail.png');
  checkpointPidfile = (id: string) => path.join(this.checkpointDir(id), 'restore.pid');
  imports = () => path.join(this.stateDir, 'imports');
  /** A checkpoint's files staged for its archive (hard links; its images made whole). */
  exports = () => path.join(this.stateDir, 'exports');
  displayClaim = (display: number) => path.join(this.stateDir, 'displays', String(display));
  /** uids/<uid>/<desktop id>: which desktops run as which uid of the reserved range (uids.ts). */
  uidClaims = () => path.join(this.stateDir, 'uids');
}
