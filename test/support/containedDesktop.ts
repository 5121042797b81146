// Self-contained desktops for the tests: a kept network namespace, host folders for home and run, newns, cleanup.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { execa } from 'execa';
import { loadConfig } from '../../server/config';
import { adoptOrphans } from '../../server/desktops/processes';
import { runCriu } from '../../server/criu/run';
import { containedDumpOptions, containedRestoreOptions } from '../../server/sandbox/criuFlags';
import { inside } from '../../server/sandbox/layout';
import { connectInNamespace } from '../../server/sandbox/netnsSocket';
import { RfbClient, tcpTransport } from '../../server/vnc/rfbClient';
import { signal, treePids, waitForExit } from '../../server/desktops/processes';
import { containedLog, launchContained, type ContainedLaunchSpec } from '../../server/sandbox/launch';
import { createNetns, deleteNetns, type KeptNetns } from '../../server/sandbox/netns';
import { eventually } from './eventually';

export const config = loadConfig(process.env);

export interface Room {
  netns: KeptNetns;
  homeDir: string;
  runDir: string;
  /** A desktop with a uid of its own: its generated /etc/passwd and /etc/group (server/sandbox/passwd.ts). */
  passwdFile?: string;
  groupFile?: string;
}

/** A scratch folder for a test file, removed (after every overlay under it is unmounted) by dispose. */
export async function scratch(): Promise<{ dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-contained-'));
  return {
    dir,
    dispose: async () => {
      const { stdout } = await execa('findmnt', ['-rn', '-o', 'TARGET'], { reject: false });
      for (const target of String(stdout).split('\n').filter((t) => t.startsWith(`${dir}/`)).reverse()) {
        await execa('umount', ['-l', target], { reject: false });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let rooms = 0;
const made: string[] = [];

/** A new network namespace and, unless given, fresh home and run folders owned by the desktop's ids. */
export async function makeRoom(dir: string, owner: { uid: number; gid: number }, folders?: { homeDir: string; runDir: string }): Promise<Room> {
  const n = ++rooms;
  const netns = await createNetns(`ff-test-${process.pid}-${n}`);
  made.push(netns.name);
  const homeDir = folders?.homeDir ?? path.join(dir, `home-${n}`);
  const runDir = folders?.runDir ?? path.join(dir, `run-${n}`);
  if (!folders) {
    await mkdir(homeDir, { mode: 0o700 });
    await chown(homeDir, owner.uid, owner.gid);
    await mkdir(runDir, { mode: 0o755 });
  }
  return { netns, homeDir, runDir };
}

/** Deletes every namespace made by makeRoom (those still holding a process go once it ends). */
export async function forgetRooms(): Promise<void> {
  for (const name of made.splice(0)) await deleteNetns(name).catch(() => {});
}

export async function startContained(
  room: Room,
  appArgs: string[],
  extra: Partial<ContainedLaunchSpec> = {},
): Promise<number> {
  const pid = await launchContained({
    newnsPath: config.newnsPath,
    rootDir: config.rootDir,
    desktopScript: config.desktopScript,
    netnsPath: room.netns.path,
    homeDir: room.homeDir,
    runDir: room.runDir,
    user: config.desktopUser,
    geometry: '640x480',
    withPassword: false,
    appArgs,
    ...(room.passwdFile ? { passwdFile: room.passwdFile, groupFile: room.groupFile } : {}),
    // The scratch folder stands for the state folder: the clones' overlay homes are mounted under it.
    hide: [path.dirname(room.homeDir)],
    ...extra,
  });
  await eventually(async () => {
    if (!(await containedLog(room.runDir)).includes('desktop started')) throw new Error(`desktop ${pid} not started:\n${await containedLog(room.runDir)}`);
  }, 20_000);
  return pid;
}

/** Every process of the tree, once every program named runs (an app may still be between fork and exec). */
export async function treeComms(pid: number, programs: string[]): Promise<Map<string, number>> {
  return eventually(async () => {
    const byComm = new Map<string, number>();
    for (const p of await treePids(pid)) byComm.set((await readFile(`/proc/${p}/comm`, 'utf8')).trim(), p);
    for (const program of programs) if (!byComm.has(program)) throw new Error(`${program} not running in ${pid}: ${[...byComm.keys()]}`);
    return byComm;
  }, 20_000);
}

/** Kills the whole tree (PID 1 of its namespace first: the kernel ends the rest) and waits for it. */
export async function killTree(pid: number): Promise<void> {
  const pids = await treePids(pid);
  signal(pid, 'SIGKILL');
  await waitForExit(pids, 10_000);
}

export function desktopIds(): { uid: number; gid: number } {
  const [, , uid, gid] = execFileSync('getent', ['passwd', config.desktopUser], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** criu dump of a contained desktop with the flags of server/sandbox/criuFlags.ts (the tree is gone after it). */
export async function criuDump(
  pid: number,
  room: Room,
  imagesDir: string,
  { networkLock, leaveRunning = false, logLevel = 4 }: { networkLock?: 'iptables' | 'nftables'; leaveRunning?: boolean; logLevel?: number } = {},
) {
  await mkdir(imagesDir, { recursive: true });
  return runCriu(config.criuPath, 'dump', {
    imagesDir, logFile: 'dump.log', logLevel, tree: pid, fileLocks: true, leaveRunning,
    ...containedDumpOptions(room.netns.inode, { ownUser: Boolean(room.passwdFile) }),
    ...(networkLock ? { networkLock } : {}),
  });
}

/**
 * criu restore into room (its namespace inherited as fd 3, its folders as the external mounts); keepConnections
 * for the namespace it was dumped from, not for a clone. Resolves with the restored root's host PID.
 */
export async function criuRestore(
  room: Room,
  imagesDir: string,
  logFile: string,
  { keepConnections, networkLock, logLevel = 4 }: { keepConnections: boolean; networkLock?: 'iptables' | 'nftables'; logLevel?: number },
) {
  const fd = openSync(room.netns.path, 'r');
  const pidfile = path.join(imagesDir, `${logFile}.pid`);
  try {
    const result = await runCriu(config.criuPath, 'restore', {
      imagesDir, logFile, logLevel, root: '/', restoreDetached: true, pidfile, fileLocks: true,
      ...containedRestoreOptions(room, keepConnections),
      ...(keepConnections && networkLock ? { networkLock } : {}),
    }, { inheritFds: [fd] });
    return { ...result, pid: Number((await readFile(pidfile, 'utf8')).trim()) };
  } finally {
    closeSync(fd);
  }
}

/** An RFB viewer on the desktop's Xvnc, through a socket made in its namespace (as the bridge will). */
export async function viewerIn(room: Room): Promise<RfbClient> {
  const socket = await connectInNamespace(room.netns.path, inside.vncPort);
  socket.setNoDelay(true);
  const client = await RfbClient.over(tcpTransport(socket));
  client.socket = socket;
  return client;
}


/**
 * A suite of contained desktops: a scratch folder made before its tests; after them its viewers closed, its trees
 * killed, the namespaces forgotten and the folder removed. Tests push what they start into trees and viewers.
 */
export function containedSuite(): { readonly dir: string; trees: number[]; viewers: RfbClient[] } {
  let work: Awaited<ReturnType<typeof scratch>> | undefined;
  const trees: number[] = [];
  const viewers: RfbClient[] = [];
  before(async () => {
    adoptOrphans();
    work = await scratch();
  });
  after(async () => {
    for (const v of viewers) v.close();
    for (const pid of trees) await killTree(pid).catch(() => {});
    await forgetRooms();
    await work?.dispose();
  });
  return {
    get dir() {
      if (!work) throw new Error('the suite\'s folder is made in before()');
      return work.dir;
    },
    trees,
    viewers,
  };
}
