// A checkpoint as one compressed archive (tar + zstd; gzip ones are still imported): export for download, import
// with every entry checked.
import 'server-only';
import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadExeca } from '../lazyExeca';
import { FreezeframeError } from '../errors';

/**
 * Entries an archive may hold: the checkpoint's own files and its signed manifest (signing.ts), nothing else; a
 * contained desktop's home-base/ (any names: a home's) with its links listed in home-links.json (homeArchive.ts).
 */
const allowedEntry = /^\.\/(checkpoint\.json|manifest\.json|signature\.json|desktop\.json|desktop\.log|(dump|restore-\d+(-pages)?)\.log(\.out)?|thumbnail\.png|images\/|images\/[A-Za-z0-9._-]+|home-links\.json|home-base\/(.+)?)?$/;

export const maxArchiveBytes = 4 * 1024 ** 3;

/**
 * Files a checkpoint folder holds that are not exported: criu's pidfile of the last restore (removed before the next
 * one), meaningless on another machine. Exported, it made every archive of a restored checkpoint unimportable.
 */
export const notExported = ['restore.pid'];

/**
 * Writes the folder's archive to file, with the named files of extra at its top as well. zstd -3: a default
 * desktop's checkpoint (38.5 MB of images) became 3.50 MB in 0.09 s, against gzip's 3.94 MB in 0.69 s (zstd -9:
 * 3.02 MB in 0.26 s), measured here; images are mostly memory pages, which compress well.
 */
export async function writeArchive(folder: string, file: string, extra?: { folder: string; names: string[] }, { level = 3 }: { level?: number } = {}): Promise<void> {
  const execa = await loadExeca();
  const more = extra ? ['-C', extra.folder, ...extra.names.map((name) => `./${name}`)] : [];
  const exclude = notExported.map((name) => `--exclude=./${name}`);
  // --hard-dereference: two names of one file in a home (cp -a keeps them in home-base) are two plain files here;
  // tar would write the second as a hard-link entry, which checkArchive refuses (no link of any kind is imported).
  await execa('tar', ['--numeric-owner', '--hard-dereference', `--use-compress-program=zstd -${level} -T0 -q`, '-cf', file, ...exclude, '-C', folder, '.', ...more], { timeout: 600_000, forceKillAfterDelay: 5_000 });
}

/** zstd's or gzip's magic: tar would take any compression it knows (or none); an archive is one of these two. */
async function compression(file: string): Promise<'zstd' | 'gzip' | undefined> {
  const handle = await open(file, 'r');
  try {
    const { buffer } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    const hex = buffer.toString('hex');
    return hex === '28b52ffd' ? 'zstd' : hex.startsWith('1f8b') ? 'gzip' : undefined;
  } finally {
    await handle.close();
  }
}

/**
 * Checks an archive without unpacking it: zstd (what export writes) or gzip (what it wrote before), regular
 * files and folders only (no links, devices or fifos that could
 * reach outside the checkpoint), names from the list above, a bounded size; returns the unpacked size.
 */
export async function checkArchive(file: string): Promise<number> {
  const execa = await loadExeca();
  const { size } = await stat(file);
  if (size > maxArchiveBytes) throw new FreezeframeError('invalid', `the archive is ${size} bytes; at most ${maxArchiveBytes}`);
  if (!(await compression(file))) throw new FreezeframeError('invalid', 'not a zstd or gzip tar archive: it starts with neither magic');
  const listing = await execa('tar', ['-tvf', file, '--numeric-owner', '--quoting-style=escape'], { timeout: 120_000, reject: false });
  if (listing.exitCode !== 0) throw new FreezeframeError('invalid', `not a zstd or gzip tar archive: ${listing.stderr.trim().split('\n')[0]}`);
  let total = 0;
  for (const line of listing.stdout.split('\n').filter(Boolean)) {
    // -rw------- 0/0 1234 2026-11-26 20:20 ./images/pages-1.img
    const m = /^([-d])\S+\s+\d+\/\d+\s+(\d+)\s+\S+\s+\S+\s+(.+)$/.exec(line);
    if (!m) throw new FreezeframeError('invalid', `the archive holds an entry that is no plain file or folder: ${line}`);
    const name = m[3];
    if (!allowedEntry.test(name) || name.split('/').includes('..')) {
      throw new FreezeframeError('invalid', `the archive holds "${name}", which no checkpoint has`);
    }
    total += Number(m[2]);
  }
  if (total > maxArchiveBytes * 4) throw new FreezeframeError('invalid', `the archive unpacks to ${total} bytes`);
  return total;
}

/** Unpacks a checked archive into a new folder under parent and returns it; nothing is left on failure. */
export async function unpackArchive(file: string, parent: string): Promise<string> {
  const execa = await loadExeca();
  await checkArchive(file);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(path.join(parent, 'import-'));
  try {
    await execa('tar', ['-C', dir, '-xf', file, '--no-same-owner'], { timeout: 600_000, forceKillAfterDelay: 5_000 });
    return dir;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new FreezeframeError('invalid', `the archive could not be unpacked: ${(error as Error).message}`, {}, { cause: error });
  }
}
