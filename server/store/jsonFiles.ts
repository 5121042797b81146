// Records as JSON files, written atomically (temp file + fsync + rename) so a crash never leaves half a record.
import 'server-only';
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  if (durable !== true) {
    // Without an fsync to wait for: synchronously. A record (~2 KB) goes to the page cache and is renamed in ~0.1 ms,
    // where its four calls through libuv's pool took 1.5-3 ms, three times on a restore's path (issue #13's
    // overhead, traced: "log copy, state" and "stats, records").
    try {
      writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
      renameSync(tmp, file);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
    if (durable === 'background') {
      const done = syncFile(file).then(() => syncFolder(path.dirname(file))).catch(() => {});
      pending.add(done);
      void done.finally(() => pending.delete(done));
    }
    return;
  }
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  await syncFolder(path.dirname(file));
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

/**
 * One record, read synchronously (a small file, cached: ~30 µs, where readFile's four calls through libuv's pool took
 * ~0.5 ms, three times before a restore's criu). Lists read theirs in parallel (readAllJson).
 */
export async function readJson<T>(file: string): Promise<T | undefined> {
  return parsed<T>(file, () => readFileSync(file, 'utf8'));
}

const readJsonInParallel = async <T>(file: string): Promise<T | undefined> => parsed<T>(file, () => readFile(file, 'utf8'));

/** The record's JSON, or undefined when there is none; anything else unreadable is an error naming the file. */
async function parsed<T>(file: string, read: () => string | Promise<string>): Promise<T | undefined> {
  try {
    return JSON.parse(await read()) as T;
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
  const records = await Promise.all(names.sort().map((name) => readJsonInParallel<T>(path.join(dir, name, fileName))));
  return records.filter((r): r is Awaited<T> => r !== undefined) as T[];
}
