// The CPU priority criu works at: ahead of ordinary work on the machine, so a dump (the desktop frozen) and a restore
// (the viewers waiting for their picture) are not stretched by whatever else the cores are busy with.
//
// Why (bench/README.md, issue #13): on these 2 shared cores, at load 8-18, criu's restore took 2-5x its quiet time
// (110-640 ms for a 75-90 ms restore) and the resume's p99 followed it. criu restores each task's own nice from the
// images (the trust check refuses a negative one), so the desktop's programs never inherit this priority.
import os from 'node:os';

/** FREEZEFRAME_CRIU_NICE: -20..19; 0 leaves criu at the server's own priority. */
export function criuNice(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FREEZEFRAME_CRIU_NICE;
  const value = raw === undefined || raw === '' ? -10 : Number(raw);
  return Number.isInteger(value) && value >= -20 && value <= 19 ? value : -10;
}

/** Sets pid's nice to criuNice() (best effort: without CAP_SYS_NICE a raise is refused, and criu runs as it is). */
export function prioritize(pid: number | undefined): void {
  const nice = criuNice();
  if (!pid || nice === 0) return;
  try {
    os.setPriority(pid, nice);
  } catch {}
}
