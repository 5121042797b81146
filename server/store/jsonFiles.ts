// Records as JSON files, written atomically (temp file + fsync + rename) so a crash never leaves half a record.
import 'server-only';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * durable: true fsyncs the file before the rename and the folder after it, so the record survives a power loss
 * (without the folder's fsync, ext4 may come back with the old name pointing at the old record).
 * durable: 'background' writes and renames now and fsyncs the file and the folder just after, off the caller's
 * path: for the records at the end of a dump or restore (their two fsynced saves took 4-70 ms of the API's time,
 * bench/results/overhead.md), whose images criu itself never fsyncs. Until those fsyncs land, a power loss leaves
 * the old record or the new one, whole (ext4 flushes a file renamed over another before the rename commits:
 * auto_da_alloc), never half of one; flushed() waits for them.
 * durable: false skips the fsyncs (still atomic: a crash of this process leaves the old record or the new one), for
 * what is worthless after a power loss anyway, like the PID of a running criu or the state of a dump under way (a
 * power loss ends criu and the tree; the restarted server judges by what is left): an fsync on ext4 commits the
 * journal, which competes with criu writing its images to the same disk.
 */
export async function writeJsonAtomic(file: string, value: unknown, { durable = true }: { durable?: Durability } = {}): Promise<void> {
  // Random, not pid + time: two writes of one record in the same millisecond would share a temp file.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + '\n');
    if (durable === true) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  if (durable === true) await syncFolder(path.dirname(file));
  if (durable === 'background') {
    const done = syncFile(file).then(() => syncFolder(path.dirname(file))).catch(() => {});
    pending.add(done);
    void done.finally(() => pending.delete(done));
  }
}

export type Durability = boolean | 'background';

const pending = new Set<Promise<void>>();

/** Resolves once every background fsync started so far has landed. */
export async function flushed(): Promise<void> {
  await Promise.all([...pending]);
}

async function syncFile(file: string): Promise<void> {
  // The record as renamed (a later write may have replaced it meanwhile: that one syncs itself).
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
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
