// Starts a self-contained desktop through native/newns: its own kept network namespace, /tmp, home and runtime
// folder at fixed paths (./layout.ts), display :1, optionally its own uid.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadExeca } from '../lazyExeca';
import { inside } from './layout';
import { desktopNicePrefix } from '../priority';

export interface ContainedLaunchSpec {
  newnsPath: string;
  /** Freezeframe's folder on the host (config.rootDir), bound at inside.app; desktopScript must lie in it. */
  rootDir: string;
  desktopScript: string;
  /** /run/netns/NAME, made with createNetns(). */
  netnsPath: string;
  /** Host folders bound at inside.home and inside.run; both must belong to the desktop's uid. */
  homeDir: string;
  runDir: string;
  /** A user with a passwd entry on the host (as today), or ids of their own (one uid per desktop). */
  user?: string;
  ids?: { uid: number; gid: number };
  /** Host files bound over /etc/passwd and /etc/group: the desktop's uid gets a name inside (see passwd.ts). */
  passwdFile?: string;
  groupFile?: string;
  geometry: string;
  /** Xvnc asks viewers for the password in inside.passwordFile (written by the caller into runDir). */
  withPassword: boolean;
  /** desktop.sh's app arguments: each app as its argument count, then its arguments. */
  appArgs: string[];
  hostname?: string;
  env?: Record<string, string>;
  /**
   * Folders whose mounts the tree must not get a copy of: the state folder, where the other desktops' overlay
   * homes are mounted (criu would dump each with this desktop and mount it again on restore).
   */
  hide?: string[];
}

/** Where a file of Freezeframe's folder is seen inside a desktop. */
export function insideApp(rootDir: string, file: string): string {
  const relative = path.relative(path.resolve(rootDir), path.resolve(file));
  if (relative.startsWith('..') || path.isAbsolute(relative)) throw new RangeError(`${file} is not in ${rootDir}`);
  return path.posix.join(inside.app, relative);
}

/** newns's argv for the spec (pure, so the flags can be checked without starting anything). */
export function containedLaunchArgs(spec: ContainedLaunchSpec): string[] {
  if (!spec.user && !spec.ids) throw new TypeError('a contained desktop needs a user or ids');
  return [
    '--log', inside.log,
    ...(spec.ids ? ['--ids', `${spec.ids.uid}:${spec.ids.gid}`] : []),
    ...(spec.user ? ['--user', spec.user] : []),
    '--hostname', spec.hostname ?? 'desktop',
    '--netns', spec.netnsPath,
    '--private-tmp',
    '--bind', `${path.resolve(spec.homeDir)}:${inside.home}`,
    '--bind', `${path.resolve(spec.runDir)}:${inside.run}`,
    // After the run folder: its mount point is made in it.
    '--bind', `${path.resolve(spec.rootDir)}:${inside.app}`,
    ...(spec.passwdFile ? ['--bind', `${path.resolve(spec.passwdFile)}:/etc/passwd`] : []),
    ...(spec.groupFile ? ['--bind', `${path.resolve(spec.groupFile)}:/etc/group`] : []),
    ...(spec.hide ?? []).flatMap((dir) => ['--hide', path.resolve(dir)]),
    '--',
    insideApp(spec.rootDir, spec.desktopScript), String(inside.display), spec.geometry, '24', spec.withPassword ? inside.passwordFile : '-', 'icewm',
    ...spec.appArgs,
  ];
}

/** Starts the desktop; resolves with the host PID of its root once newns has exec'd desktop.sh. */
export async function launchContained(spec: ContainedLaunchSpec): Promise<number> {
  const execa = await loadExeca();
  // At nice 0 whatever the server's own priority (server/priority.ts).
  const [command, ...prefixed] = [...desktopNicePrefix(), spec.newnsPath, ...containedLaunchArgs(spec)];
  const child = await execa(command, prefixed, {
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: inside.home,
      LANG: 'C.UTF-8',
      SHELL: '/bin/bash', // see server/desktops/launcher.ts: dash keeps /dev/tty open, which criu refuses
      ...spec.env,
    },
    extendEnv: false,
    reject: false,
    timeout: 15_000,
    stdin: 'ignore',
    cwd: '/',
  });
  const pid = Number(String(child.stdout).trim());
  if (child.exitCode !== 0 || !Number.isInteger(pid) || pid <= 1) {
    throw new Error(`newns failed (exit ${child.exitCode ?? child.signal}): ${String(child.stderr).trim() || 'no output'}`);
  }
  return pid;
}

/** The desktop's log, from the host side of its runtime folder. */
export function containedLog(runDir: string): Promise<string> {
  return readFile(path.join(runDir, path.basename(inside.log)), 'utf8').catch(() => '');
}
