// A checkpoint's home-base/ (a contained desktop's home at the dump, what its clones' homes overlay: cp -a) shares
// the files it has in common with the previous checkpoint's: each file that is the previous one's byte for byte,
// with the same mode, owner and modification time, becomes a hard link to it. Both folders are only ever read (an
// overlay's lower layer, an export's staging), so one inode serves both; deleting either leaves the other whole.
import { randomBytes } from 'node:crypto';
import { link, lstat, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const chunk = 1024 * 1024;

async function sameBytes(a: string, b: string, size: number): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const [ba, bb] = [Buffer.alloc(Math.min(chunk, size)), Buffer.alloc(Math.min(chunk, size))];
    for (let at = 0; at < size; at += chunk) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, ba.length, at), fb.read(bb, 0, bb.length, at)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
      if (!ra.bytesRead) break;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/**
 * Replaces the files of `base` that `previous` holds unchanged (same relative path, size, mode, owner, mtime and
 * bytes) with hard links to them, each by a link under a new name renamed over the copy (a crash leaves the copy or
 * the link). Returns the files linked and the bytes this freed.
 */
export async function linkUnchanged(base: string, previous: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(base, rel), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const name = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        await walk(name);
        continue;
      }
      if (!entry.isFile()) continue;
      const [mine, theirs] = await Promise.all([lstat(path.join(base, name)), lstat(path.join(previous, name)).catch(() => undefined)]);
      if (!theirs?.isFile() || (mine.dev === theirs.dev && mine.ino === theirs.ino)) continue;
      if (mine.size !== theirs.size || mine.mode !== theirs.mode || mine.uid !== theirs.uid || mine.gid !== theirs.gid || mine.mtimeMs !== theirs.mtimeMs) continue;
      if (!(await sameBytes(path.join(base, name), path.join(previous, name), mine.size))) continue;
      const temporary = path.join(base, rel, `.${entry.name}.${randomBytes(4).toString('hex')}.link`);
      try {
        await link(path.join(previous, name), temporary);
        await rename(temporary, path.join(base, name));
      } catch {
        await rm(temporary, { force: true });
        continue;
      }
      files++;
      bytes += mine.size;
    }
  };
  await walk('');
  return { files, bytes };
}
