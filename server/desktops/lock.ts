// One operation at a time per desktop, across processes (the server, the CLI): flock(2) on a lock file per desktop.
import 'server-only';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { FreezeframeError } from '../errors';

export interface LockHolder {
  pid: number;
  op: string;
  since: string;
}

export interface HeldLock {
  release(): Promise<void>;
}

interface Flock {
  tryLock(fd: number): boolean;
}

// native/flock.node (see native/flock.c): the kernel releases the lock when its holder dies, so a holder that
// crashed holds nothing and no one ever removes another's lock. The file itself stays: removing it would let two
// processes lock two different files of one name. Its content (who, what, since) only words the refusal.
let flock: Flock | undefined;
function native(): Flock {
  try {
    flock ??= createRequire(import.meta.url)('../../native/flock.node') as Flock;
    return flock;
  } catch (error) {
    throw new Error('native/flock.node is missing: build it with `make -C native` (scripts/install.sh does)', { cause: error });
  }
}

/** Takes the lock at file for op, or refuses (busy) when another holder has it; never waits. */
export async function acquireLock(file: string, op: string, what: string): Promise<HeldLock> {
  const handle = await open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    if (!native().tryLock(handle.fd)) {
      const holder = describe(await handle.readFile('utf8'));
      throw new FreezeframeError('busy', `${what} is busy: ${holder.op} since ${holder.since} (process ${holder.pid})`);
    }
    await handle.truncate(0);
    await handle.write(JSON.stringify({ pid: process.pid, op, since: new Date().toISOString() }), 0);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return {
    release: async () => {
      await handle.truncate(0).catch(() => {});
      await handle.close(); // and with it the lock
    },
  };
}

function describe(content: string): LockHolder {
  try {
    return JSON.parse(content) as LockHolder;
  } catch {
    // Locked a moment ago, its content not written yet.
    return { pid: 0, op: 'an operation', since: 'now' };
  }
}

/**
 * Operations that others in this process wait for rather than being refused: the tidying after a checkpoint
 * (operations/tidy.ts: ~0.1-0.2 s of page sharing and removals), which would otherwise make a Restore clicked
 * right after a Checkpoint fail as busy; and the settling of a lazy restore once its daemon is done
 * (operations/pages.ts: a few ms of records), which would make a Checkpoint clicked at that moment fail.
 */
const waitedFor = new Set(['tidy', 'pages']);

/** One operation at a time per desktop: refused at once in this process (busy), by the lock file across processes. */
export class OperationLocks {
  /** Desktops with an operation under way in this process, which one, and its end. */
  private readonly busy = new Map<string, { op: string; done: Promise<unknown> }>();

  constructor(private readonly lockFile: (id: string) => string) {}

  isBusy(id: string): boolean {
    return this.busy.has(id);
  }

  /** Waits for the desktop's follow-up in this process (a checkpoint's home copy and tidying), if one is under way. */
  async settled(id: string): Promise<void> {
    for (let current = this.busy.get(id); current && waitedFor.has(current.op); current = this.busy.get(id)) await current.done.catch(() => {});
  }

  /** Runs fn as the desktop's only operation; a second request meanwhile is refused, never run twice. */
  async run<T>(id: string, op: string, fn: () => Promise<T>): Promise<T> {
    let current = this.busy.get(id);
    while (current && waitedFor.has(current.op) && !waitedFor.has(op)) {
      await current.done.catch(() => {});
      current = this.busy.get(id);
    }
    if (current) throw new FreezeframeError('busy', `desktop ${id} is busy: ${current.op} is under way`);
    const done = (async () => {
      const lock = await acquireLock(this.lockFile(id), op, `desktop ${id}`);
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    })();
    this.busy.set(id, { op, done });
    try {
      return await done;
    } finally {
      this.busy.delete(id);
    }
  }

  /**
   * Runs fn as the desktop's only operation, hands back its value as soon as it has one, and goes on holding the
   * lock for its follow-up (after), as 'tidy': waited for, not refused, by the next operation in this process.
   * The lock is never released between the two, so no other process can come in between (a restore of another
   * checkpoint changing the home a follow-up copies). followUp is after's outcome.
   */
  async runThen<T, U>(id: string, op: string, fn: () => Promise<{ value: T; after: () => Promise<U> }>): Promise<{ value: T; followUp: Promise<U> }> {
    let handOver!: (value: { value: T; followUp: Promise<U> }) => void;
    let fail!: (error: unknown) => void;
    const handed = new Promise<{ value: T; followUp: Promise<U> }>((resolve, reject) => {
      handOver = resolve;
      fail = reject;
    });
    // fn's failure is handed back by run, once the lock is released: handed back at once, a Stop or Restore its caller
    // sent next was refused as busy (test/dumpExiting, a checkpoint that failed and the desktop's stop just after).
    void this.run(id, op, async () => {
      const outcome = await fn();
      const entry = this.busy.get(id);
      if (entry) entry.op = 'tidy';
      const followUp = outcome.after();
      handOver({ value: outcome.value, followUp });
      await followUp.catch(() => {});
    }).catch(fail);
    return handed;
  }
}
