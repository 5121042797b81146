// Starts a desktop's tree through native/newns and returns the host PID of its root (PID 1 of its namespace).
import 'server-only';
import { loadExeca } from '../lazyExeca';
import type { Config } from '../config';
import { appArgs, type AppPreset } from '../../lib/presets';
import { containedLaunchArgs } from '../sandbox/launch';
import { inside } from '../sandbox/layout';
import { insideUserName } from '../sandbox/passwd';

export interface LaunchSpec {
  display: number;
  geometry: string;
  apps: AppPreset[];
  logPath: string;
  homeDir: string;
  /** Xvnc's password file: viewers must authenticate with the desktop's own password. */
  passwordFile: string;
  /**
   * A self-contained desktop: its kept network namespace and run folder (rooms.ts); display, log and password
   * file are then the fixed inside ones, the home and run folders bound there, the state folder hidden.
   */
  room?: {
    netnsPath: string; runDir: string; hide: string[];
    /** A uid of its own (uids.ts), named inside by these passwd and group files bound over the host's. */
    own?: { ids: { uid: number; gid: number }; passwdFile: string; groupFile: string };
  };
}

export class LaunchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LaunchError';
  }
}

export async function launchDesktop(config: Config, spec: LaunchSpec): Promise<number> {
  const execa = await loadExeca();
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: spec.room ? inside.home : spec.homeDir,
    LANG: 'C.UTF-8',
    // xterm runs $SHELL, else the user's login shell (nologin, so it falls back to sh); dash keeps /dev/tty open,
    // which criu refuses to dump ("ctty inheritance detected"), bash does not.
    SHELL: '/bin/bash',
    ...Object.assign({}, ...spec.apps.map((app) => app.env ?? {})),
  };
  const args = spec.room ? containedLaunchArgs({
    newnsPath: config.newnsPath, rootDir: config.rootDir, desktopScript: config.desktopScript, netnsPath: spec.room.netnsPath,
    homeDir: spec.homeDir, runDir: spec.room.runDir, geometry: spec.geometry,
    ...(spec.room.own
      ? { ids: spec.room.own.ids, user: insideUserName, passwdFile: spec.room.own.passwdFile, groupFile: spec.room.own.groupFile }
      : { user: config.desktopUser }),
    // The apps' scripts as the tree sees Freezeframe's folder (bound at inside.app).
    withPassword: true, appArgs: appArgs(spec.apps, inside.app), hide: spec.room.hide,
  }) : [
    '--log', spec.logPath,
    // An unprivileged uid without any capability (see native/newns.c).
    '--user', config.desktopUser,
    '--hostname', `freezeframe-${spec.display}`,
    '--',
    config.desktopScript, String(spec.display), spec.geometry, '24', spec.passwordFile, 'icewm',
    ...appArgs(spec.apps, config.rootDir),
  ];
  const child = await execa(config.newnsPath, args, {
    env,
    extendEnv: false,
    reject: false,
    timeout: 15_000,
    forceKillAfterDelay: 2_000,
    stdin: 'ignore',
    // newns makes $HOME the working directory once its binds are made.
    cwd: spec.room ? '/' : spec.homeDir,
  });
  const pid = Number(child.stdout.trim());
  if (child.exitCode !== 0 || !Number.isInteger(pid) || pid <= 1) {
    throw new LaunchError(
      `newns failed (exit ${child.exitCode ?? child.signal}): ${child.stderr.trim() || child.stdout.trim() || 'no output'}`,
      { cause: child },
    );
  }
  return pid;
}
