// Records as JSON files, written atomically (temp file + fsync + rename) so a crash never leaves half a record.
import 'server-only';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * durable: false skips the fsync (still atomic: a crash of this process leaves the old record or the new one), for
 * what is worthless after a power loss anyway, like the PID of a running criu: an fsync on ext4 commits the journal,
 * which competes with criu writing its images to the same disk. durable: true also fsyncs the folder, so the rename
 * itself survives a power loss (without it, ext4 may come back with the old name pointing at the old record).
 */
export async function writeJsonAtomic(file: string, value: unknown, { durable = true }: { durable?: boolean } = {}): Promise<void> {
  // Random, not pid + time: two writes of one record in the same millisecond would share a temp file.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + '\n');
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  if (durable) await syncFolder(path.dirname(file));
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}`, { cause: error });
  }
}

/** Every `<dir>/<name>/<fileName>` record, skipping folders that have none. */
export async function readAllJson<T>(dir: string, fileName: string): Promise<T[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records = await Promise.all(names.sort().map((name) => readJson<T>(path.join(dir, name, fileName))));
  return records.filter((r): r is Awaited<T> => r !== undefined) as T[];
}
