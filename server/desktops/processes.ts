// A desktop's process tree as /proc shows it: identity that survives PID reuse, liveness, the tree's PIDs.
import 'server-only';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';

interface Reaper {
  becomeSubreaper(): boolean;
  reap(pid: number): boolean;
}

// native/reaper.node (see native/reaper.c): without it everything works, but on a machine whose PID 1 never
// reaps, every dumped or stopped desktop stays behind as a zombie.
const reaper: Reaper | undefined = (() => {
  try {
    return createRequire(import.meta.url)('../../native/reaper.node') as Reaper;
  } catch {
    return undefined;
  }
})();

/** Makes this process adopt the desktops' orphaned roots, so it can reap them. */
export function adoptOrphans(): boolean {
  return reaper?.becomeSubreaper() ?? false;
}

export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22: tells a PID apart from a later process that reuses it. */
  startTime: string;
}

/**
 * Read synchronously: /proc is never a disk, and one read costs ~20 µs where libuv's pool took 0.3-0.5 ms in hops
 * (open, stat, read, close), twice on a restore's path (its root and its lazy-pages daemon identified).
 */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: everything after the last ')' is fields 3...
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * The desktop roots this process may reap, by identity. Only these: a zombie child of ours may also be a child
 * node itself waits for (criu, run by execa), and taking its exit status would leave execa waiting until its timeout.
 */
const adoptedRoots = new Map<number, string>();

/** Registers a desktop root (started by newns or restored by `criu restore -d`), so that identify() reaps it dead. */
export function adoptRoot(root: ProcessIdentity): void {
  adoptedRoots.set(root.pid, root.startTime);
}

/** The identity of a live process; undefined when it is gone or a zombie. */
export async function identify(pid: number): Promise<ProcessIdentity | undefined> {
  const fields = await statFields(pid);
  if (fields?.[0] === 'Z' && Number(fields[1]) === process.pid && adoptedRoots.get(pid) === fields[19]) {
    adoptedRoots.delete(pid);
    reaper?.reap(pid);
  }
  if (!fields || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return { pid, startTime: fields[19] };
}

export async function isAlive(id: ProcessIdentity | undefined): Promise<boolean> {
  if (!id) return false;
  const now = await identify(id.pid);
  return now?.startTime === id.startTime;
}

/**
 * Every live PID of the tree rooted at pid (the root included), from /proc/<pid>/task/<tid>/children.
 * Read synchronously: /proc's files are made on read, in memory (~10-20 µs each), while each await went through
 * libuv's thread pool: a dozen processes with their threads made ~30 round trips, 4-10 ms at load 10 and up to
 * 165 ms at load 14, on the dump's path before the freeze (FREEZEFRAME_TRACE, overhead bench).
 */
export async function treePids(pid: number): Promise<number[]> {
  return walkTree(pid, live).map((p) => p.pid);
}

/**
 * The tree's live processes with their identities (PID and start time, read in the same pass): what a wait for their
 * end judges by, so that a PID the kernel gives to another process meanwhile (pid_max is 32768 here) is not taken
 * for a survivor, and killed.
 */
export async function treeIdentities(pid: number): Promise<ProcessIdentity[]> {
  return walkTree(pid, live).map(({ pid, fields }) => ({ pid, startTime: fields[19] }));
}

/**
 * Each process of the tree at pid with its /proc stat fields after the name (field 3 on), children found through
 * every thread's children file; a process that `into` refuses is left out, and so is what lies below it.
 */
function walkTree(pid: number, into: (fields: string[]) => boolean): { pid: number; fields: string[] }[] {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  const result: { pid: number; fields: string[] }[] = [];
  const queue = [pid];
  while (queue.length) {
    const next = queue.shift()!;
    const stat = read(`/proc/${next}/stat`);
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (!fields || !into(fields)) continue;
    result.push({ pid: next, fields });
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${next}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) queue.push(...(read(`/proc/${next}/task/${tid}/children`) ?? '').split(' ').filter(Boolean).map(Number));
  }
  return result;
}

/** Gone, a zombie or dead: not part of the live tree (as identify() says). */
const live = (fields: string[]) => fields[0] !== 'Z' && fields[0] !== 'X';

/**
 * The tree's processes caught half-way out: the leader already a zombie, some of its threads not gone yet (each runs
 * its own exit, and the last one frees the memory). criu cannot dump such a process ("Zombies with threads are not
 * supported", criu/seize.c), and a moment later it is a plain zombie or gone.
 */
export function exitingPids(pid: number): number[] {
  // Field 3, the state; field 20, the number of threads.
  return walkTree(pid, () => true).filter(({ fields }) => fields[0] === 'Z' && Number(fields[17]) > 1).map((p) => p.pid);
}

/**
 * Waits until no process of the tree at pid is caught half-way out (exitingPids); returns those still exiting at
 * the deadline.
 */
export async function waitForExiting(pid: number, timeoutMs: number): Promise<number[]> {
  return until(async () => exitingPids(pid), timeoutMs);
}

/** Reads left again (after 5, 10, 20... ms, at most 100 apart) until it is empty or timeoutMs have passed; its last. */
async function until<T>(left: (previous?: T[]) => Promise<T[]>, timeoutMs: number): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  let last: T[] | undefined;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    last = await left(last);
    if (!last.length || Date.now() >= deadline) return last;
    await delay(wait);
  }
}

/**
 * Waits until none of procs is alive (zombies count as gone: on these machines PID 1 does not always reap
 * orphans, so a dead desktop root may linger as a zombie). A process given by its identity is gone too once its PID
 * names another process (a later start time). Returns those still alive at the deadline.
 */
export async function waitForExit<P extends number | ProcessIdentity>(procs: P[], timeoutMs: number): Promise<P[]> {
  const lives = async (p: P) => {
    const now = await identify(typeof p === 'number' ? p : p.pid);
    return !!now && (typeof p === 'number' || now.startTime === p.startTime);
  };
  return until(async (alive = procs) => {
    const living = await Promise.all(alive.map(lives));
    return alive.filter((_, i) => living[i]);
  }, timeoutMs);
}

/** Sends sig (0: only asks whether pid exists); false when there is no such process. */
export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
