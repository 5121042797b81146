// Reconcile carried out: the facts about a desktop's processes gathered, the plan (../reconcile.ts) made, its steps
// done and their events emitted; always with the desktop's lock held.
import { readFile } from 'node:fs/promises';
import { readVerdict } from '../../criu/verdict';
import { FreezeframeError } from '../../errors';
import type { DesktopRecord } from '../records';
import { mayNeedReconcile, planReconcile, type ReconcileFacts } from '../reconcile';
import type { OperationContext } from './context';
import { endOfTree, stopLocked } from './halt';
import { sealCheckpoint } from './seal';

/** Whether the recorded root is alive; a root this process may have adopted is registered for reaping. */
export async function rootAlive({ deps }: OperationContext, record: DesktopRecord): Promise<boolean> {
  if (!record.pid) return false;
  const root = { pid: record.pid, startTime: record.pidStartTime ?? '' };
  if (record.pidStartTime) deps.processes.adoptRoot(root);
  return deps.processes.isAlive(root);
}

export async function reconcileFacts(ctx: OperationContext, record: DesktopRecord): Promise<ReconcileFacts> {
  const { deps, paths, store } = ctx;
  const alive = await rootAlive(ctx, record);
  if (!mayNeedReconcile(record, alive)) return { alive };
  const facts: ReconcileFacts = { alive, criuAtWork: await deps.processes.isCriu(record.lastOperation?.criuPid) };
  const checkpointId = record.lastOperation?.checkpoint;
  if (checkpointId && (record.state === 'checkpointing' || record.state === 'restoring')) {
    facts.checkpoint = await store.getCheckpoint(checkpointId).catch(() => undefined);
  }
  if (checkpointId && record.state === 'checkpointing') {
    const log = await readFile(paths.checkpointDumpLog(checkpointId), 'utf8').catch(() => '');
    const verdict = readVerdict('dump', log);
    facts.dumpSucceeded = verdict.ok;
    facts.dumpLastLine = verdict.lastLine;
  }
  if (checkpointId && record.state === 'restoring') {
    const pid = Number(await readFile(paths.checkpointPidfile(checkpointId), 'utf8').catch(() => ''));
    facts.restoredRoot = pid > 0 ? await deps.processes.identify(pid) : undefined;
    if (facts.restoredRoot) deps.processes.adoptRoot(facts.restoredRoot);
  }
  return facts;
}

/** Brings a record in line with its processes; the desktop's lock must be held. */
export async function reconcileLocked(ctx: OperationContext, record: DesktopRecord): Promise<DesktopRecord> {
  const facts = await reconcileFacts(ctx, record);
  for (const step of planReconcile(record, facts)) {
    switch (step.do) {
      case 'endTree':
        // As checkpoint.ts does after criu.
        await endOfTree(ctx.deps.processes, await ctx.deps.processes.treeIdentities(record.pid!));
        break;
      case 'sealCheckpoint':
        await sealCheckpoint(ctx, step.checkpoint, {});
        break;
      case 'failCheckpoint':
        await ctx.store.saveCheckpoint({ ...step.checkpoint, state: 'failed', error: step.error });
        break;
      case 'setState':
        await ctx.store.setState(record, step.state, step.changes);
        ctx.emit({ ...step.event, desktop: record });
        break;
      case 'finishStop':
        record = await stopLocked(ctx, record);
        break;
    }
  }
  return record;
}

/**
 * Reconciles a record just read (every GET and WebSocket upgrade reads one), under the desktop's lock. Skipped while
 * an operation holds the lock, here or in another process (the CLI); concurrent reads share one reconcile.
 */
export class Reconciler {
  private readonly pending = new Map<string, Promise<DesktopRecord>>();

  constructor(private readonly ctx: OperationContext) {}

  async reconcile(record: DesktopRecord): Promise<DesktopRecord> {
    const { locks, store } = this.ctx;
    if (locks.isBusy(record.id) && !this.pending.has(record.id)) return record;
    if (!mayNeedReconcile(record, await rootAlive(this.ctx, record))) return record;
    const pending = this.pending.get(record.id);
    if (pending) return pending;
    if (locks.isBusy(record.id)) return record;
    const run = locks.run(record.id, 'reconcile', async () => reconcileLocked(this.ctx, await store.load(record.id)))
      .catch((error: unknown) => {
        if (error instanceof FreezeframeError && error.code === 'busy') return record;
        throw error;
      })
      .finally(() => this.pending.delete(record.id));
    this.pending.set(record.id, run);
    return run;
  }
}
