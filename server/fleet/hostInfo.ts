// What this host says about itself in the fleet: its free memory (/proc/meminfo's MemAvailable) and its id.
import { readFile } from 'node:fs/promises';

export const hostIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * MemAvailable in bytes. FREEZEFRAME_TEST_MEM_AVAILABLE (bytes) replaces it: a test seam only, so that placement can
 * be tested on one machine where every test host reads the same /proc/meminfo.
 */
export async function memAvailableBytes(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const faked = env.FREEZEFRAME_TEST_MEM_AVAILABLE;
  if (faked !== undefined && /^\d+$/.test(faked)) return Number(faked);
  const text = await readFile('/proc/meminfo', 'utf8');
  const kib = /^MemAvailable:\s+(\d+) kB$/m.exec(text)?.[1];
  if (kib === undefined) throw new Error('/proc/meminfo has no MemAvailable line');
  return Number(kib) * 1024;
}
