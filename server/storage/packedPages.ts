// The pages files of an older, shared checkpoint kept gzipped beside its images (packed/), and put back in its
// images before anything hands them to criu (a restore of it, a clone, an export's flatten): criu reads only plain
// pages files.
//
// Why (default desktop, bench/results/storage.md): once its pages are shared, a checkpoint still holds ~2.3-3 MB
// of pages its base does not have, mostly whole rows of Xvnc's framebuffer in which xclock's hands moved (one row
// is one 4 KiB page at 1024x768): gzip -6 makes 3.0 MB 0.18 MB, and putting them back took 7 ms of gunzip. Only
// shared checkpoints that are not their desktop's newest are packed: the newest restores from criu's own images,
// and a base's pages are read by every restore of its dependents.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';

const gzipped = promisify(gzip);
const gunzipped = promisify(gunzip);

const pagesName = /^pages-\d+\.img$/;
export const packedDir = (imagesDir: string) => path.join(path.dirname(imagesDir), 'packed');
const packedName = (name: string) => `${name}.gz`;

async function list(dir: string): Promise<string[]> {
  try {
    // Synchronously: a restore's path lists a folder that is mostly not there (a newest checkpoint has none).
    return readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Written under a name of its own, then renamed: two writers (clones at once) never see each other's half file. */
async function writeWhole(file: string, bytes: Buffer): Promise<void> {
  const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
  await writeFile(partial, bytes, { mode: 0o600 });
  await rename(partial, file);
}

/**
 * Packs the pages files of imagesDir into packed/. Each .gz is complete (renamed in) before any plain file goes: a
 * crash leaves the plain ones, or both (the plain ones are what counts; unpackPages then only tidies). Returns the
 * bytes saved.
 */
export async function packPages(imagesDir: string): Promise<number> {
  const names = (await list(imagesDir)).filter((n) => pagesName.test(n));
  if (!names.length) return 0;
  const dir = packedDir(imagesDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let saved = 0;
  for (const name of names) {
    const plain = await readFile(path.join(imagesDir, name));
    const packed = await gzipped(plain, { level: 6 });
    await writeWhole(path.join(dir, packedName(name)), packed);
    saved += plain.length - packed.length;
  }
  await Promise.all(names.map((n) => rm(path.join(imagesDir, n))));
  return saved;
}

/**
 * Puts the packed pages files of imagesDir back (each written whole, then renamed in), then removes packed/.
 * Nothing to do (the usual case: a newest or whole checkpoint) costs one failed readdir.
 */
export async function unpackPages(imagesDir: string): Promise<void> {
  const dir = packedDir(imagesDir);
  const found = await list(dir);
  if (!found.length) {
    // No packed/ (or an empty one a crash left): one readdir on every restore's path, no more.
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    return;
  }
  const packed = found.filter((n) => n.endsWith('.gz') && pagesName.test(n.slice(0, -3)));
  const have = new Set(await list(imagesDir));
  for (const name of packed) {
    const plain = name.slice(0, -3);
    if (!have.has(plain)) await writeWhole(path.join(imagesDir, plain), await gunzipped(await readFile(path.join(dir, name))));
  }
  await rm(dir, { recursive: true, force: true });
}

/** A pages file of imagesDir, plain or packed. */
export async function readPages(imagesDir: string, name: string): Promise<Buffer> {
  try {
    return await readFile(path.join(imagesDir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return gunzipped(await readFile(path.join(packedDir(imagesDir), packedName(name))).catch(() => { throw error; }));
  }
}
