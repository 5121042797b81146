// A uid of its own per self-contained desktop, from a reserved range: claimed in the state folder (a folder per uid,
// an entry per desktop that runs as it: the desktop, and the clones of its checkpoints), released on remove.
import 'server-only';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { FreezeframeError } from '../errors';

/**
 * 2,000,000-2,999,999: no distribution's useradd hands these out (it stops at 60000); a uid is also skipped when the
 * host names it (passwd), delegates it (/etc/subuid, /etc/subgid: whoever holds it could map it in a user namespace
 * of theirs and signal the desktop) or runs a process as it (another state folder's desktop).
 */
export const reservedUids = { min: 2_000_000, max: 2_999_999 } as const;

export interface OwnIds {
  uid: number;
  gid: number;
}

export function isReservedUid(uid: unknown): uid is number {
  return Number.isInteger(uid) && (uid as number) >= reservedUids.min && (uid as number) <= reservedUids.max;
}

/** The ranges of /etc/subuid or /etc/subgid as [first, count] pairs (pure). */
export function subordinateRanges(text: string): [number, number][] {
  return text.split('\n').flatMap((line) => {
    const [, first, count] = line.trim().split(':');
    return first !== undefined && count !== undefined && /^\d+$/.test(first) && /^\d+$/.test(count) ? [[Number(first), Number(count)] as [number, number]] : [];
  });
}

const readOr = (file: string) => readFile(file, 'utf8').catch(() => '');

async function hostNames(uid: number): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('getent', ['passwd', String(uid)], { timeout: 10_000 }, (error) => resolve(!error));
  });
}

/**
 * Every uid that owns a process on this machine now: a /proc/PID folder belongs to its task's euid (to root while
 * the task is not dumpable, as a sandboxing browser makes itself; a desktop's Xvnc and icewm never do).
 */
async function runningUids(): Promise<Set<number>> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
  const uids = await Promise.all(pids.map((pid) => stat(`/proc/${pid}`).then((s) => s.uid, () => -1)));
  return new Set(uids);
}

export class UidClaims {
  constructor(private readonly dir: string) {}

  private entry(uid: number, id: string): string {
    return path.join(this.dir, String(uid), id);
  }

  /** A fresh uid for desktop id (its gid the same number), claimed; the first free one of the range. */
  async allocate(id: string): Promise<OwnIds> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const delegated = subordinateRanges(`${await readOr('/etc/subuid')}\n${await readOr('/etc/subgid')}`);
    const running = await runningUids();
    const taken = new Set((await readdir(this.dir)).map(Number));
    for (let uid = reservedUids.min; uid <= reservedUids.max; uid++) {
      if (taken.has(uid) || running.has(uid) || delegated.some(([first, count]) => uid >= first && uid < first + count)) continue;
      try {
        await mkdir(path.join(this.dir, String(uid)), { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // claimed meanwhile
        throw error;
      }
      if (await hostNames(uid)) {
        await rmdir(path.join(this.dir, String(uid))).catch(() => {});
        continue;
      }
      await writeFile(this.entry(uid, id), '');
      return { uid, gid: uid };
    }
    throw new FreezeframeError('internal', `no free uid left in ${reservedUids.min}-${reservedUids.max}`);
  }

  /** Desktop id runs as uid too (a clone of a checkpoint, an imported desktop): criu restores the ids as dumped. */
  async join(uid: number, id: string): Promise<void> {
    if (!isReservedUid(uid)) throw new FreezeframeError('invalid', `uid ${uid} is not in the desktops' range ${reservedUids.min}-${reservedUids.max}`);
    await mkdir(path.join(this.dir, String(uid)), { recursive: true, mode: 0o700 });
    await writeFile(this.entry(uid, id), '');
  }

  /** Whether desktop id holds a claim on uid: the ids the trust check accepts in its checkpoints. */
  async holds(uid: number | undefined, id: string): Promise<boolean> {
    // A stat, synchronously: on every restore's path, where one call through libuv's pool costs more than the call.
    return isReservedUid(uid) && existsSync(this.entry(uid, id));
  }

  /** Desktop id no longer runs as uid; the uid is free again once nobody does. */
  async release(uid: number | undefined, id: string): Promise<void> {
    if (!isReservedUid(uid)) return;
    await unlink(this.entry(uid, id)).catch(() => {});
    await rmdir(path.join(this.dir, String(uid))).catch(() => {}); // ENOTEMPTY: a clone or the origin still runs as it
  }
}
