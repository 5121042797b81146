// The logs a checkpoint keeps, small: criu's dump and restore logs gzipped once nothing writes them (read back as
// text wherever they are shown), and the desktop's log kept as a bounded tail at its full size (a sparse file).
//
// Measured (default desktop, criu -v4, bench/results/storage.md): a checkpoint that shares its pages kept 3.0-4.3 MB,
// of which its dump log 0.92 MB, each restore's log 0.58 MB (gzip -6: 129 KB and 89 KB, -9 122 and 84 KB at ~3x the
// CPU; zstd -19 would give 74 and 50 KB, but gzip is read by Node itself and by zcat/zless), and the desktop's log copy 2-11 KB growing by ~1 KB a
// restore (an hour's auto-cycle: 0.9 MB a copy, bench/results/soak-60min).
import { execFile } from 'node:child_process';
import { closeSync, fchmodSync, fstatSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { lstat, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';

const gzipped = promisify(gzip);
const gunzipped = promisify(gunzip);

export const gzName = (file: string) => `${file}.gz`;

/**
 * Replaces file with file.gz (level 6: ~40 ms of a thread-pool thread for a -v4 dump log, after the reply). The
 * .gz is complete before the plain file goes: a crash leaves one or both, never neither.
 */
export async function compressLog(file: string): Promise<number> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const packed = await gzipped(text, { level: 6 });
  const partial = `${gzName(file)}.partial`;
  await writeFile(partial, packed, { mode: 0o600 });
  await rename(partial, gzName(file));
  await rm(file, { force: true });
  return text.length - packed.length;
}

/** A log's text, from file or, once compressed, file.gz; undefined when neither is there. */
export async function readLog(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    return (await gunzipped(await readFile(gzName(file)))).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * What a copy of the desktop's log keeps: its last 64 KiB, at their place in a file of the log's full size (the
 * head a hole). criu restores the log's file at the size it had at the dump (else "has bad size") and appends
 * there; what it said long ago is of no use to a restore.
 */
export const logTailBytes = 64 * 1024;

/**
 * Writes to `to` (replaced, with from's mode) a file of `size` bytes (default: from's size) holding from's bytes [size - tail, size)
 * at their place, nothing before them (a hole: no disk). Reads only the tail: a copy made this way is copied again
 * (a restore putting it back) in one read and one write, whatever the log's size.
 */
export async function copyLogTail(from: string, to: string, size?: number): Promise<void> {
  // Synchronous calls: ten on small, cached files cost ~0.1 ms, where each went through libuv's pool (~1-1.5 ms
  // in all) on a restore's path and a dump's seal.
  const source = openSync(from, 'r');
  let tail: Buffer;
  let total: number;
  let mode: number;
  try {
    const s = fstatSync(source);
    total = size ?? s.size;
    mode = s.mode & 0o7777;
    const length = Math.min(total, logTailBytes);
    tail = Buffer.alloc(length);
    const bytesRead = readSync(source, tail, 0, length, total - length);
    tail = tail.subarray(0, bytesRead);
  } finally {
    closeSync(source);
  }
  rmSync(to, { force: true });
  const target = openSync(to, 'wx', 0o600);
  try {
    // criu checks the mode too ("has bad mode"), as copyFile kept it.
    fchmodSync(target, mode);
    writeSync(target, tail, 0, tail.length, total - tail.length);
    ftruncateSync(target, total);
  } finally {
    closeSync(target);
  }
}

/** Bytes a file takes on disk as far as its content goes: its size, or less when it has holes. */
export async function storedSize(file: string): Promise<number> {
  const s = await lstat(file);
  return s.isFile() ? Math.min(s.size, s.blocks * 512) : 0;
}

const run = promisify(execFile);

/**
 * Frees the disk of a live desktop log's head, all but its last logTailBytes (fallocate --punch-hole: the size,
 * and so the tree's O_APPEND writes, unchanged; the head reads as zeros). The tree writes its log for as long as it
 * runs (Xvnc a few lines per viewer's connection): without this it grew by every restore's and connection's lines.
 */
export async function trimLiveLog(file: string): Promise<number> {
  const s = await stat(file).catch(() => undefined);
  if (!s?.isFile()) return 0;
  const punch = Math.floor(Math.max(0, s.size - logTailBytes) / 4096) * 4096;
  // Only once its head takes space (the blocks beyond the tail's and a page's).
  if (!punch || s.blocks * 512 <= logTailBytes + 8192) return 0;
  await run('fallocate', ['--punch-hole', '--offset', '0', '--length', String(punch), file], { timeout: 10_000 });
  return s.blocks * 512 - (await stat(file)).blocks * 512;
}
