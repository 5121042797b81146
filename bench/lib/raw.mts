// Raw criu cycles on a desktop the engine started: the same flags the engine used, images in a folder of our own.
//
// The engine's record of such a desktop goes stale (its pid is the pre-dump one), so a desktop used for raw cycles is
// never given to the engine again except to be stopped: at the end, the raw-restored tree is ended by its pidfile
// (SIGTERM to its root, as the engine does), then the engine's stop (which finds the record's tree gone) releases the
// display and removes what Xvnc left.
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Paths } from '../../server/desktops/records.ts';
import { roomOf } from '../../server/desktops/rooms.ts';
import { api, dirBytes, isAlive, killRawTree, rewriteArgs, runRawCriu } from './common.mts';

export interface Templates {
  dump: string[];
  restore: string[];
}

/**
 * One API checkpoint + restore of the desktop: the engine's exact command lines. A contained desktop's name its own
 * namespace (`--external net[INODE]:KEY`) and folders (`mnt[KEY]:HOSTPATH`): a raw desktop takes its own, never
 * another desktop's.
 */
export async function engineCommands(url: string, desktopId: string): Promise<Templates & { dumpMs: number; restoreMs: number }> {
  const cp = (await api(url, 'POST', `/api/desktops/${desktopId}/checkpoint`)).body.checkpoint;
  const restored = (await api(url, 'POST', `/api/checkpoints/${cp.id}/restore`)).body;
  return { dump: cp.command, restore: restored.desktop.lastOperation.command, dumpMs: cp.dumpMs, restoreMs: restored.restoreMs };
}

export class RawDesktop {
  pid: number;
  private n = 0;
  lastImages = '';
  lastLogBytes = 0;

  constructor(
    readonly stateDir: string,
    readonly desktopId: string,
    pid: number,
    readonly templates: Templates,
    readonly workDir: string,
    /** A self-contained desktop (issue #12): its log in its run folder, its restore given its kept namespace. */
    readonly contained = false,
  ) {
    this.pid = pid;
    mkdirSync(workDir, { recursive: true });
  }

  private get room() {
    return roomOf(new Paths(this.stateDir), this.desktopId);
  }

  private get desktopLog() {
    return this.contained ? this.room.log : path.join(this.stateDir, 'desktops', this.desktopId, 'desktop.log');
  }

  /** criu dump of the tree; returns criu's wall time in ms. */
  async dump(logLevel?: number): Promise<number> {
    const dir = path.join(this.workDir, String(++this.n));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.join(dir, 'images'), { recursive: true });
    const args = rewriteArgs(this.templates.dump, { '--images-dir': path.join(dir, 'images'), '--log-file': path.join(dir, 'dump.log'), '--tree': String(this.pid) }, logLevel);
    const ms = await runRawCriu(args);
    for (let i = 0; i < 100 && isAlive(this.pid); i++) await delay(20);
    // As the engine does: the desktop's log, exactly as the dumped tree had it open, for the restore.
    copyFileSync(this.desktopLog, path.join(dir, 'desktop.log'));
    this.lastImages = path.join(dir, 'images');
    this.lastLogBytes = statSync(path.join(dir, 'dump.log')).size;
    return ms;
  }

  /** criu restore of the last dump; returns criu's wall time in ms. */
  async restore(logLevel?: number): Promise<number> {
    const dir = path.dirname(this.lastImages);
    copyFileSync(path.join(dir, 'desktop.log'), this.desktopLog);
    const pidfile = path.join(dir, 'restore.pid');
    rmSync(pidfile, { force: true });
    const args = rewriteArgs(this.templates.restore, { '--images-dir': this.lastImages, '--log-file': path.join(dir, 'restore.log'), '--pidfile': pidfile }, logLevel);
    // As the engine does: the kept namespace, opened for this restore only, is criu's fd 3 (--inherit-fd fd[3]:KEY).
    const netns = this.contained ? openSync(this.room.netnsPath, 'r') : undefined;
    let ms: number;
    try {
      ms = await runRawCriu(args, netns === undefined ? [] : [netns]);
    } finally {
      if (netns !== undefined) closeSync(netns);
    }
    this.pid = Number(readFileSync(pidfile, 'utf8').trim());
    this.lastLogBytes = statSync(path.join(dir, 'restore.log')).size;
    return ms;
  }

  imageBytes(): number {
    return dirBytes(this.lastImages);
  }

  /** Drops the images of dumps before the last one (disk space). */
  prune(): void {
    for (let i = 1; i < this.n; i++) rmSync(path.join(this.workDir, String(i)), { recursive: true, force: true });
  }

  async end(): Promise<void> {
    await killRawTree(this.pid);
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
