// A checkpoint's files on disk: their size, and their removal, record first (a crash half-way leaves no record
// pointing at half the images); images another checkpoint still reads pages from stay until none does (dedup.ts).
import { lstat, readdir, readlink, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Paths } from '../desktops/records';
import { parentLink } from './dedup';

const removedMark = 'removed';

/**
 * Bytes of the files under dir, links not followed (images/parent is no content of this checkpoint), a file with
 * holes (the desktop log's copy: storage/logs.ts) counted by the blocks it has, a file with several names (images
 * hard-linked to their base's: dedup.ts; home copies: homeBase.ts) by its share: over the whole state folder they
 * add up to what du counts, and each checkpoint counts its part.
 */
export async function diskBytes(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const sizes = await Promise.all(entries.map(async (entry): Promise<number> => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return diskBytes(full);
    if (!entry.isFile()) return 0;
    const s = await lstat(full).catch(() => undefined);
    return s ? Math.min(s.size, s.blocks * 512) / Math.max(1, s.nlink) : 0;
  }));
  return Math.round(sizes.reduce((a, b) => a + b, 0));
}

/** Checkpoint folder name -> whether some checkpoint's images read pages from its images. */
export async function referencedBases(paths: Paths): Promise<Set<string>> {
  const names = await readdir(paths.checkpoints()).catch(() => [] as string[]);
  const targets = await Promise.all(names.map((n) => readlink(path.join(paths.checkpointImages(n), parentLink)).catch(() => undefined)));
  return new Set(targets.map((t) => t && /^\.\.\/\.\.\/([^/]+)\/images$/.exec(t)?.[1]).filter((b): b is string => !!b));
}

/**
 * Removes checkpoint id's record and files; its images stay while another checkpoint reads pages from them (they
 * go with the last such one, see collectBases). Returns the bytes freed now.
 */
export async function removeCheckpointFiles(paths: Paths, id: string, referenced?: Set<string>): Promise<number> {
  const dir = paths.checkpointDir(id);
  const before = await diskBytes(dir);
  // Marked before the record goes: a folder marked and without a record is what collectBases may take, and
  // nothing else (a checkpoint being made has its folder a moment before its record).
  await writeFile(path.join(dir, removedMark), '');
  await unlink(paths.checkpointRecord(id)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  if ((referenced ?? (await referencedBases(paths))).has(id)) {
    for (const name of await readdir(dir)) if (name !== 'images' && name !== removedMark) await rm(path.join(dir, name), { recursive: true, force: true });
  } else {
    await rm(dir, { recursive: true, force: true });
  }
  return before - (await diskBytes(dir));
}

/**
 * Removes the images of removed checkpoints that no checkpoint reads pages from any more (a folder without a
 * record: see removeCheckpointFiles). Returns the bytes freed. A folder without a record gains no reader: only a
 * checkpoint with a record is chosen as a base.
 */
export async function collectBases(paths: Paths): Promise<number> {
  const names = await readdir(paths.checkpoints()).catch(() => [] as string[]);
  const referenced = await referencedBases(paths);
  let freed = 0;
  for (const name of names) {
    if (referenced.has(name)) continue;
    const exists = (file: string) => lstat(file).then(() => true, () => false);
    if (!(await exists(path.join(paths.checkpointDir(name), removedMark))) || (await exists(paths.checkpointRecord(name)))) continue;
    const dir = paths.checkpointDir(name);
    freed += await diskBytes(dir);
    await rm(dir, { recursive: true, force: true });
  }
  return freed;
}
