// Records as JSON files, written atomically (temp file + fsync + rename) so a crash never leaves half a record.
import 'server-only';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * durable: false skips the fsync (still atomic: a crash of this process leaves the old record or the new one), for
 * what is worthless after a power loss anyway, like the PID of a running criu: an fsync on ext4 commits the journal,
 * which competes with criu writing its images to the same disk.
 */
export async function writeJsonAtomic(file: string, value: unknown, { durable = true }: { durable?: boolean } = {}): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
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
