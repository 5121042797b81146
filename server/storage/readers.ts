// Checkpoints whose images a restore reads without holding their desktop's lock (clones: each under its own
// desktop's), and those whose images the page sharing is rewriting (dedup.ts swaps folders): a reader waits for a
// rewrite under way, and a rewrite is not started while one reads (it is tried again at the next tidying). And the
// desktops a restore waits for: their tidying stops its page work (operations/tidy.ts), off the restore's path.
const readers = new Map<string, number>();
const rewrites = new Map<string, Promise<unknown>>();

/** fn, with key counted in counts while it runs (several at once: the key goes with the last). */
async function counted<T>(counts: Map<string, number>, key: string, fn: () => Promise<T>): Promise<T> {
  counts.set(key, (counts.get(key) ?? 0) + 1);
  try {
    return await fn();
  } finally {
    const left = counts.get(key)! - 1;
    if (left) counts.set(key, left);
    else counts.delete(key);
  }
}

export async function whileReading<T>(checkpointId: string, fn: () => Promise<T>): Promise<T> {
  for (let rewrite = rewrites.get(checkpointId); rewrite; rewrite = rewrites.get(checkpointId)) await rewrite.catch(() => {});
  return counted(readers, checkpointId, fn);
}

/** fn's outcome, or undefined without running it while a reader has the checkpoint's images. */
export async function unlessRead<T>(checkpointId: string, fn: () => Promise<T>): Promise<T | undefined> {
  if (readers.has(checkpointId) || rewrites.has(checkpointId)) return undefined;
  const running = fn();
  rewrites.set(checkpointId, running);
  try {
    return await running;
  } finally {
    rewrites.delete(checkpointId);
  }
}

const restoresWaiting = new Map<string, number>();

/** fn (a restore of one of desktopId's checkpoints), while restoreWaits(desktopId) says so. */
export async function restoreComing<T>(desktopId: string, fn: () => Promise<T>): Promise<T> {
  return counted(restoresWaiting, desktopId, fn);
}

export const restoreWaits = (desktopId: string) => restoresWaiting.has(desktopId);
