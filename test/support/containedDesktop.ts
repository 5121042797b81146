// Self-contained desktops for the tests: a kept network namespace, host folders for home and run, newns, cleanup.
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadConfig } from '../../server/config';
import { signal, treePids, waitForExit } from '../../server/desktops/processes';
import { containedLog, launchContained, type ContainedLaunchSpec } from '../../server/sandbox/launch';
import { createNetns, deleteNetns, type KeptNetns } from '../../server/sandbox/netns';
import { eventually } from './eventually';

export const config = loadConfig(process.env);

export interface Room {
  netns: KeptNetns;
  homeDir: string;
  runDir: string;
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
    desktopScript: config.desktopScript,
    netnsPath: room.netns.path,
    homeDir: room.homeDir,
    runDir: room.runDir,
    user: config.desktopUser,
    geometry: '640x480',
    withPassword: false,
    appArgs,
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
    const { readFile } = await import('node:fs/promises');
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
