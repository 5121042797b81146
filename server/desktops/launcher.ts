// Starts a desktop's tree through native/newns and returns the host PID of its root (PID 1 of its namespace).
import 'server-only';
import { execa } from 'execa';
import type { Config } from '../config';
import { appArgs, type AppPreset } from './apps';

export interface LaunchSpec {
  display: number;
  geometry: string;
  apps: AppPreset[];
  logPath: string;
  homeDir: string;
  /** Xvnc's password file: viewers must authenticate with the desktop's own password. */
  passwordFile: string;
}

export class LaunchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LaunchError';
  }
}

export async function launchDesktop(config: Config, spec: LaunchSpec): Promise<number> {
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: spec.homeDir,
    LANG: 'C.UTF-8',
    ...Object.assign({}, ...spec.apps.map((app) => app.env ?? {})),
  };
  const args = [
    '--log', spec.logPath,
    // uid 0 without any capability, not another uid: root on these machines lacks CAP_SYS_RESOURCE, and criu
    // must prlimit() every task, which the kernel allows on another uid's task only with that capability.
    '--no-caps',
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
    cwd: spec.homeDir,
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
