// The unprivileged user the desktops' programs run as, and the files of a desktop that user must own.
import 'server-only';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { FreezeframeError } from '../errors';

export interface DesktopUser {
  name: string;
  uid: number;
  gid: number;
}

/** Looks the user up through NSS (getent), as native/newns will; throws when it is missing or is root. */
export async function lookUpDesktopUser(name: string): Promise<DesktopUser> {
  // node's own execFile, not execa: this runs at every start of the CLI, and execa takes ~80 ms to load.
  const stdout = await new Promise<string | undefined>((resolve) => {
    execFile('getent', ['passwd', name], { timeout: 10_000 }, (error, out) => resolve(error ? undefined : out));
  });
  const fields = stdout ? stdout.trim().split(':') : [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (fields.length < 4 || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new FreezeframeError('internal', `no user "${name}" to run the desktops as: run scripts/install.sh (it creates it)`);
  }
  if (uid === 0 || gid === 0) throw new FreezeframeError('internal', `the desktop user "${name}" must not be root`);
  return { name, uid, gid };
}

/**
 * The desktop's folder is searchable by its programs (0711: they cannot list it, nor read what root keeps there);
 * its home and the VNC password file (Xvnc reads it at every authentication) belong to them.
 */
export async function prepareDesktopFiles(
  paths: { dir: string; home: string; passwordFile: string },
  password: Buffer,
  owner: { uid: number; gid: number },
): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o711 });
  await chmod(paths.dir, 0o711);
  await mkdir(paths.home, { recursive: true, mode: 0o700 });
  await chown(paths.home, owner.uid, owner.gid);
  await writeFile(paths.passwordFile, password, { mode: 0o600 });
  await chown(paths.passwordFile, owner.uid, owner.gid);
}

/** Adds search permission for others to a directory of the state folder, which the desktops' homes are under. */
export async function makeSearchable(dir: string): Promise<void> {
  const { mode } = await stat(dir);
  if ((mode & 0o011) !== 0o011) await chmod(dir, (mode & 0o7777) | 0o011);
}
