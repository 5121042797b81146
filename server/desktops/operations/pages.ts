// After a lazy restore: waiting for its lazy-pages daemon to have sent every page, and judging how it ended. A
// desktop whose memory is still partly in the images is never dumped (its dump would write the holes) and its
// checkpoint's images are never removed; a daemon that failed leaves holes, so the desktop is ended as failed.
import { judgeLazyLog, readLazyLog, type LazyDaemon, type LazyOutcome } from '../../criu/lazyPages';
import { FreezeframeError } from '../../errors';
import type { DesktopRecord } from '../records';
import type { OperationContext } from './context';
import { killTree } from './halt';

/** The daemons this process started, by desktop: their exit code is known here only. */
const daemons = new Map<string, LazyDaemon>();

/**
 * How long an operation waits for the last pages: Firefox's 400 MB took 0.5-1.8 s (test/lazy.test.ts); the daemon
 * ends itself as failed after 120 s (criu/lazyPages.ts). A daemon of another process: checked every 20 ms.
 */
const fetchTimeoutMs = 130_000;

/** Called by the restore once criu has restored the tree: settles the record by itself when the daemon is done. */
export function watchPages(ctx: OperationContext, id: string, daemon: LazyDaemon): void {
  daemons.set(id, daemon);
  void daemon.done.then(async () => {
    // Under the lock, once it is free (the restore itself still holds it when the daemon is quick); an operation
    // holding it meanwhile (a checkpoint waiting for these pages) settles the record itself.
    for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
      try {
        await ctx.locks.run(id, 'pages', async () => { await settlePages(ctx, await ctx.store.load(id)); });
        return;
      } catch (error) {
        if (!(error instanceof FreezeframeError && error.code === 'busy')) return;
        const record = await ctx.store.load(id).catch(() => undefined);
        if (record?.fetching?.pid !== daemon.pid) return;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  });
}

/** Whether pages of this checkpoint's images are still being sent into some desktop. */
export function fetchingFrom(records: DesktopRecord[], checkpointId: string): DesktopRecord | undefined {
  return records.find((r) => r.fetching?.checkpoint === checkpointId);
}

/**
 * With the desktop's lock held: waits until its lazy-pages daemon (if any) has exited, records how it ended on the
 * checkpoint's restore, and clears the mark. A daemon that failed: the tree is ended (its memory has holes) and the
 * desktop is failed with CRIU's explanation; this throws that error. The images are never touched.
 */
export async function settlePages(ctx: OperationContext, record: DesktopRecord): Promise<DesktopRecord> {
  const fetching = record.fetching;
  if (!fetching) return record;
  const { deps, store } = ctx;
  const mine = daemons.get(record.id);
  let outcome: Omit<LazyOutcome, 'ms'> & { ms?: number };
  if (mine && mine.pid === fetching.pid) {
    outcome = await withTimeout(mine.done, fetchTimeoutMs);
  } else {
    // Started by another process (the CLI): its exit code is not ours to know; its log says how it went.
    const identity = { pid: fetching.pid, startTime: fetching.startTime };
    const end = performance.now() + fetchTimeoutMs;
    while (await deps.processes.isAlive(identity)) {
      if (performance.now() > end) throw timeout();
      await new Promise((r) => setTimeout(r, 20));
    }
    outcome = judgeLazyLog(await readLazyLog(fetching.logPath), undefined, undefined);
  }
  daemons.delete(record.id);
  const checkpoint = await store.getCheckpoint(fetching.checkpoint).catch(() => undefined);
  const restore = checkpoint?.restores.find((r) => r.lazy?.logPath === fetching.logPath);
  if (checkpoint && restore) {
    restore.lazy = { logPath: fetching.logPath, ms: outcome.ms, copiedPages: outcome.copiedPages, totalPages: outcome.totalPages, ok: outcome.ok, ...(outcome.ok ? {} : { errors: outcome.errors }) };
    await store.saveCheckpoint(checkpoint);
  }
  if (outcome.ok) {
    delete record.fetching;
    await store.save(record);
    ctx.emit({ type: 'changed', desktop: record, checkpoint });
    return record;
  }
  // Its memory has holes where pages never came: what runs is not the checkpoint any more.
  await killTree(ctx, record);
  const error = {
    code: 'criu' as const,
    message: `the lazy restore of checkpoint ${fetching.checkpoint} did not complete: ${outcome.errors[0] ?? 'criu lazy-pages failed'}`,
    errors: outcome.errors, logPath: fetching.logPath, exitCode: outcome.exitCode,
  };
  delete record.fetching;
  // A desktop stopped meanwhile stays stopped (stop ends the tree; the daemon then ends too).
  if (record.state === 'running') await store.setState(record, 'failed', { pid: undefined, pidStartTime: undefined, lastError: error });
  else await store.save(Object.assign(record, { lastError: error }));
  ctx.emit({ type: 'failed', desktop: record, checkpoint, operation: 'restore', error });
  throw new FreezeframeError('criu', error.message, { error });
}

function timeout() {
  return new FreezeframeError('busy', `the lazy restore's pages are still being sent after ${fetchTimeoutMs / 1000} s`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(timeout()), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
