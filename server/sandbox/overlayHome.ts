// Copy-on-write homes for clones: the home as it was at the dump (a base copy kept with the checkpoint), and one
// overlay per clone over it, so clones never share writes and the base never changes.
import { chown, chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

async function run(command: string, args: string[]): Promise<void> {
  const result = await execa(command, args, { reject: false, timeout: 120_000, stdin: 'ignore' });
  if (result.exitCode !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.exitCode ?? result.signal}): ${String(result.stderr).trim()}`);
  }
}

/**
 * Copies the home into baseDir (absent yet), keeping owners, modes, times and sparse files; on a file system that
 * can share extents (btrfs, xfs) it costs no data. Taken while the tree is stopped (after a dump without
 * --leave-running), it is exactly the home the images' open files refer to.
 */
export async function copyHomeBase(homeDir: string, baseDir: string): Promise<void> {
  await run('cp', ['-a', '--reflink=auto', '--sparse=always', '--no-target-directory', homeDir, baseDir]);
}

export interface CloneHome {
  /** What the clone's tree sees at /home/desktop (criu's `--external mnt[KEY]:merged`). */
  merged: string;
  upper: string;
  work: string;
}

/** Mounts an overlay of baseDir under cloneDir (upper, work, home); its root takes baseDir's owner and mode. */
export async function mountCloneHome(baseDir: string, cloneDir: string): Promise<CloneHome> {
  const home: CloneHome = { merged: path.join(cloneDir, 'home'), upper: path.join(cloneDir, 'upper'), work: path.join(cloneDir, 'work') };
  const base = await stat(baseDir);
  for (const dir of [home.merged, home.upper, home.work]) await mkdir(dir, { recursive: true, mode: 0o700 });
  // The overlay's root is the upper folder: the desktop's user must own it, as it owned its home.
  await chown(home.upper, base.uid, base.gid);
  await chmod(home.upper, base.mode & 0o7777);
  // A lowerdir with a ':' or ',' would be split by the kernel: the state folder's paths never have one.
  if (/[:,]/.test(baseDir + home.upper + home.work)) throw new Error(`overlay paths must not hold ':' or ',': ${baseDir}`);
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${baseDir},upperdir=${home.upper},workdir=${home.work}`, home.merged]);
  return home;
}

/** Unmounts a clone's home once its tree is gone (its upper folder keeps what the clone wrote). */
export async function unmountCloneHome(home: CloneHome): Promise<void> {
  await run('umount', [home.merged]);
}
