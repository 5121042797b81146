// Where a self-contained desktop lives: its kept network namespace, its host folders (home, run) and their fixed
// paths inside (server/sandbox/layout.ts); what the operations ask when they need a desktop's namespace or files.
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inside } from '../sandbox/layout';
import { writeDesktopPasswd } from '../sandbox/passwd';
import type { VncTarget } from '../vnc/target';
import type { DesktopRecord, Paths } from './records';

/** A desktop's room: the same shape for every self-contained desktop, host paths under its own folder. */
export interface Room {
  /** `ip netns` name: unique per state folder and desktop, so two servers (an import elsewhere) never share one. */
  netns: string;
  netnsPath: string;
  dir: string;
  /** Bound at /home/desktop: a plain folder, or (a clone, a restore of an older checkpoint) an overlay's merged one. */
  home: string;
  /** Bound at /run/desktop: the tree's log and Xvnc's password file. */
  run: string;
  log: string;
  passwordFile: string;
  /** The overlay's upper and work folders, when the home is one (rooms never share a write). */
  upper: string;
  work: string;
  /** Bound over /etc/passwd and /etc/group when the desktop has a uid of its own (server/sandbox/passwd.ts). */
  passwdFile: string;
  groupFile: string;
}

export function isContained(record: Pick<DesktopRecord, 'kind'>): boolean {
  return record.kind === 'contained';
}

/** The first 6 hex digits of the state folder's hash: a namespace name stays short (ip's limit) and unique per folder. */
function stateTag(stateDir: string): string {
  return createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 6);
}

export function roomOf(paths: Paths, id: string): Room {
  const dir = paths.desktopDir(id);
  const run = path.join(dir, 'run');
  const netns = `ff-${stateTag(paths.stateDir)}-${id.replace(/^d-/, '')}`;
  return {
    netns, netnsPath: `/run/netns/${netns}`, dir, home: paths.desktopHome(id), run,
    log: path.join(run, path.basename(inside.log)), passwordFile: path.join(run, path.basename(inside.passwordFile)),
    upper: path.join(dir, 'upper'), work: path.join(dir, 'work'),
    passwdFile: path.join(dir, 'passwd'), groupFile: path.join(dir, 'group'),
  };
}

/** The prefix of every namespace this state folder's desktops use (reconcile forgets those without a desktop). */
export function netnsPrefix(paths: Paths): string {
  return `ff-${stateTag(paths.stateDir)}-`;
}

/** The desktop's log as the server sees it: its run folder's for a contained desktop, its folder's otherwise. */
export function desktopLogOf(paths: Paths, record: Pick<DesktopRecord, 'id' | 'kind'>): string {
  return isContained(record) ? roomOf(paths, record.id).log : paths.desktopLog(record.id);
}

/** The passwd and group files criu binds again at restore, for a desktop with a uid of its own. */
export function ownPasswd(record: Pick<DesktopRecord, 'ownUser'>, room: Room): { passwdFile?: string; groupFile?: string } {
  return record.ownUser ? { passwdFile: room.passwdFile, groupFile: room.groupFile } : {};
}

export function vncTargetOf(paths: Paths, record: Pick<DesktopRecord, 'id' | 'kind' | 'vncPort'>): VncTarget {
  return isContained(record) ? { port: inside.vncPort, netnsPath: roomOf(paths, record.id).netnsPath } : { port: record.vncPort };
}

/**
 * The room's folders: its own 0700 (root's: only newns, as root, binds from it; `--hide` keeps the state folder
 * out of every tree's view anyway), the home and the VNC password file the desktop user's (Xvnc reads the file at
 * every authentication), the run folder root's (newns opens the log there before it drops privileges). With a uid
 * of its own (ownUser), the passwd and group files that name it inside (root's, 0644: read, never changed, by it).
 */
export async function prepareRoomFiles(room: Room, password: Buffer, owner: { uid: number; gid: number }, { home = true, ownUser = false } = {}): Promise<void> {
  await mkdir(room.dir, { recursive: true, mode: 0o700 });
  await chmod(room.dir, 0o700);
  if (home) {
    await mkdir(room.home, { recursive: true, mode: 0o700 });
    await chown(room.home, owner.uid, owner.gid);
  }
  await mkdir(room.run, { recursive: true, mode: 0o755 });
  // Where newns binds Freezeframe's folder (inside.app): criu needs it to exist in a clone's run folder too.
  await mkdir(path.join(room.run, path.basename(inside.app)), { recursive: true, mode: 0o755 });
  await writeFile(room.passwordFile, password, { mode: 0o600 });
  await chown(room.passwordFile, owner.uid, owner.gid);
  if (ownUser) await writeDesktopPasswd(owner, room.passwdFile, room.groupFile);
}

/** Whether something is mounted at dir (an overlay home), by this process's mount table. */
export async function isMountPoint(dir: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').some((line) => line.split(' ')[4] === dir);
}
