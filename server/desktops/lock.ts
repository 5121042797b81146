// One operation at a time per desktop, across processes (the server, the CLI): a lock file per desktop.
import 'server-only';
import { open, unlink } from 'node:fs/promises';
import { FreezeframeError } from '../errors';
import { readJson } from '../store/jsonFiles';
import { identify } from './processes';

export interface LockHolder {
  pid: number;
  op: string;
  since: string;
}

export interface HeldLock {
  release(): Promise<void>;
}

/** Lock files held by this process. */
const heldHere = new Set<string>();

/** Who holds the lock at file, if anyone does. */
export async function lockHolder(file: string): Promise<LockHolder | undefined> {
  const holder = await readJson<LockHolder>(file).catch(() => undefined);
  if (!holder) return undefined;
  if (holder.pid === process.pid) return heldHere.has(file) ? holder : undefined;
  // identify, not kill(pid, 0): a holder that died as a zombie (adopted by us, or by a PID 1 that never reaps)
  // holds nothing.
  return (await identify(holder.pid)) ? holder : undefined;
}

/** Takes the lock at file for op, or refuses (busy) when another holder has it; never waits. */
export async function acquireLock(file: string, op: string, what: string): Promise<HeldLock> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(JSON.stringify({ pid: process.pid, op, since: new Date().toISOString() }));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const holder = await lockHolder(file);
      if (holder && holder.pid !== process.pid) {
        throw new FreezeframeError('busy', `${what} is busy: ${holder.op} since ${holder.since} (process ${holder.pid})`);
      }
      await unlink(file).catch(() => {});
    }
  }
  heldHere.add(file);
  return {
    release: async () => {
      heldHere.delete(file);
      await unlink(file).catch(() => {});
    },
  };
}
