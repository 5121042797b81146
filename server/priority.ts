// The server's own CPU priority: ahead of ordinary work on the machine, so the steps around criu (the trust check,
// the records, the bridge relaying the first frame after a restore) are not stretched by whatever else the cores
// run. The desktops it starts are put back at nice 0 (desktopNicePrefix): the trust check refuses images of a
// negative nice, and a desktop gets no more than any program.
//
// Why (bench/README.md, issue #13, resume bench at load 7-11 on 2 shared cores, FREEZEFRAME_TRACE): with criu at
// nice -10 the restore API call was still 1.2-3x criu's own time; the server's steps around it stalled 50-200 ms
// at random (the trust check's ~5 ms of CPU took 200 ms, a 64 KB log read 135 ms, a record write 190 ms).
import os from 'node:os';
import { readdirSync } from 'node:fs';

/** FREEZEFRAME_SERVER_NICE: -20..19; 0 leaves the server as started. */
export function serverNice(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FREEZEFRAME_SERVER_NICE;
  const value = raw === undefined || raw === '' ? -5 : Number(raw);
  return Number.isInteger(value) && value >= -20 && value <= 19 ? value : -5;
}

/**
 * Sets every thread of this process (the event loop, libuv's file system pool, V8's helpers: Linux keeps a nice per
 * thread) to serverNice(). Best effort: without CAP_SYS_NICE a raise is refused and the server runs as it is.
 */
export function raiseServerPriority(): void {
  const nice = serverNice();
  if (nice === 0) return;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      os.setPriority(Number(tid), nice);
    } catch {}
  }
}

/**
 * What a program the server starts for good (a desktop's tree) is run through to get nice 0 back: `nice -n N`, N
 * the opposite of this thread's own nice (relative, so any server priority is undone exactly); nothing at 0.
 */
export function desktopNicePrefix(): string[] {
  const own = os.getPriority();
  return own === 0 ? [] : ['nice', '-n', String(-own)];
}
