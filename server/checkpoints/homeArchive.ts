// A checkpoint's home-base (a contained desktop's home at the dump, what every clone's home overlays) in an archive:
// staged as hard links with the other files, its symbolic links carried as data (home-links.json), so that the
// archive keeps holding plain files and folders only, every one of them in the signed manifest.
import 'server-only';
import { chmod, link, lstat, mkdir, readFile, readdir, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FreezeframeError } from '../errors';
import { loadExeca } from '../lazyExeca';

export const homeBaseName = 'home-base';
export const homeLinksName = 'home-links.json';

export interface HomeLink {
  /** Under home-base/, `/`-separated. */
  path: string;
  target: string;
}

/**
 * Stages base (a checkpoint's home-base/) into staged/home-base: folders made with their modes, files hard-linked
 * (same file system: the exports folder is in the state folder), symbolic links listed in staged/home-links.json.
 * Sockets are left out: criu makes a bound socket's file again at restore, from its own image. A fifo or device in
 * a home is refused: no archive carries one (archive.ts).
 */
export async function stageHomeBase(base: string, staged: string): Promise<{ files: number; links: number }> {
  const links: HomeLink[] = [];
  let files = 0;
  const walk = async (rel: string) => {
    const from = path.join(base, rel);
    const to = path.join(staged, homeBaseName, rel);
    await mkdir(to, { recursive: true });
    await chmod(to, (await lstat(from)).mode & 0o7777);
    for (const entry of await readdir(from, { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(name);
      else if (entry.isFile()) {
        await link(path.join(from, entry.name), path.join(to, entry.name));
        files++;
      } else if (entry.isSymbolicLink()) links.push({ path: `${homeBaseName}/${name}`, target: await readlink(path.join(from, entry.name)) });
      else if (!entry.isSocket()) {
        throw new FreezeframeError('bad_state', `the checkpoint's home holds ${name}, which is no file, folder, link or socket: an archive cannot carry it`);
      }
    }
  };
  await walk('');
  if (links.length) await writeFile(path.join(staged, homeLinksName), JSON.stringify(links, null, 1) + '\n', { mode: 0o600 });
  return { files, links: links.length };
}

/** Why a listed link may not be made (a path outside home-base, `.` or `..` in it, a target with NUL), or undefined. */
export function homeLinkViolation(entry: unknown): string | undefined {
  const { path: where, target } = (entry ?? {}) as Partial<HomeLink>;
  if (typeof where !== 'string' || typeof target !== 'string') return 'an entry without path and target';
  const parts = where.split('/');
  if (parts[0] !== homeBaseName || parts.length < 2 || parts.slice(1).some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    return `${JSON.stringify(where)} is not a path under ${homeBaseName}/`;
  }
  if (target === '' || target.includes('\0')) return `the link ${where} has no usable target`;
  return undefined;
}

/**
 * Makes the links home-links.json lists, in an unpacked and verified archive folder, then removes the list. Each
 * is made in a real folder of home-base (a link made earlier is never walked through: a listed `a -> /etc` then
 * `a/x` is refused). Links only: nothing is written through them.
 */
export async function restoreHomeLinks(dir: string): Promise<number> {
  const file = path.join(dir, homeLinksName);
  let list: unknown;
  try {
    list = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new FreezeframeError('invalid', `the archive's ${homeLinksName} is unreadable: ${(error as Error).message}`);
  }
  if (!Array.isArray(list)) throw new FreezeframeError('invalid', `the archive's ${homeLinksName} is no list`);
  for (const entry of list as HomeLink[]) {
    const why = homeLinkViolation(entry);
    if (why) throw new FreezeframeError('invalid', `the archive's ${homeLinksName}: ${why}`);
    const at = path.join(dir, entry.path);
    const parent = path.dirname(at);
    const real = await realpath(parent).catch(() => undefined);
    if (real !== parent || !(await lstat(parent)).isDirectory()) {
      throw new FreezeframeError('invalid', `the archive's ${homeLinksName}: ${entry.path} is not in a folder of ${homeBaseName}/`);
    }
    await symlink(entry.target, at).catch((error: NodeJS.ErrnoException) => {
      throw new FreezeframeError('invalid', `the archive's ${homeLinksName}: ${entry.path}: ${error.code === 'EEXIST' ? 'listed twice, or a file of the archive' : error.message}`);
    });
  }
  await rm(file);
  return list.length;
}

/**
 * Gives an imported home-base to this installation's desktop user (the archive's own ids are never used: it was
 * unpacked --no-same-owner, as root's): a clone's overlay copies a file up with its owner, and the desktop's
 * programs must be able to write what they wrote before. Links themselves (-h), never what they point to.
 */
export async function ownHomeBase(base: string, owner: { uid: number; gid: number }): Promise<void> {
  const execa = await loadExeca();
  await execa('chown', ['-R', '-h', '--', `${owner.uid}:${owner.gid}`, base], { timeout: 120_000 });
}
