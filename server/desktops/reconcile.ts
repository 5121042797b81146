// Reconcile as a plan: what a desktop's record needs to match the processes that really exist (after a crash of
// the server or the CLI, or a desktop that died by itself). Pure: the registry gathers the facts and carries the
// steps out under the desktop's lock, emitting each step's event like any other change.
import type { DesktopEvent } from './events';
import type { CheckpointRecord, DesktopRecord, ErrorInfo } from './records';
import type { DesktopState } from '../../lib/states';

export interface ReconcileFacts {
  /** The recorded root is alive (the same process: its start time matches). */
  alive: boolean;
  /** The criu the record names still runs: its server died while it worked, and the operation is under way. */
  criuAtWork?: boolean;
  /** checkpointing: the checkpoint being dumped, and whether criu's log says the dump succeeded. */
  checkpoint?: CheckpointRecord;
  dumpSucceeded?: boolean;
  /** checkpointing: the last line of criu's dump log (its verdict, or where it stopped), said when a dump is judged. */
  dumpLastLine?: string;
  /** restoring: the restored tree's root (from criu's pidfile), when it is alive. */
  restoredRoot?: { pid: number; startTime: string };
}

export type ReconcileStep =
  /** Finish the bookkeeping of a dump that completed after its server died (see Desktops.sealCheckpoint). */
  | { do: 'sealCheckpoint'; checkpoint: CheckpointRecord }
  /**
   * The tree of a dump that succeeded is still on its way out (criu killed it; its last processes, released when
   * criu exited, end a moment later): waited for as a checkpoint waits for it, what is left then killed.
   */
  | { do: 'endTree' }
  | { do: 'failCheckpoint'; checkpoint: CheckpointRecord; error: ErrorInfo }
  | { do: 'setState'; state: DesktopState; changes: Partial<DesktopRecord>; event: Omit<DesktopEvent, 'desktop'> }
  /** A stop its server did not live to finish. */
  | { do: 'finishStop' };

const watched: readonly DesktopState[] = ['starting', 'running', 'checkpointing', 'restoring', 'stopping'];

/** Whether a record may be out of line, knowing only whether its root is alive: the check every read makes. */
export function mayNeedReconcile(record: DesktopRecord, alive: boolean): boolean {
  return watched.includes(record.state) && !(alive && record.state === 'running');
}

export const goneError: ErrorInfo = { code: 'gone', message: "the desktop's processes are gone" };
const dumpInterrupted: ErrorInfo = { code: 'interrupted', message: 'the dump was interrupted' };
const restoreInterrupted: ErrorInfo = { code: 'interrupted', message: 'the restore was interrupted' };

export function planReconcile(record: DesktopRecord, facts: ReconcileFacts): ReconcileStep[] {
  if (!mayNeedReconcile(record, facts.alive) || facts.criuAtWork) return [];
  const { alive, checkpoint } = facts;
  const operation = record.lastOperation;
  switch (record.state) {
    case 'checkpointing': {
      // A root still alive after criu said the dump succeeded is a tree criu has killed, not yet all gone (a CI run
      // of test/faults: judged at that instant, the checkpoint read interrupted and the desktop failed).
      if (checkpoint && facts.dumpSucceeded && !checkpoint.leaveRunning) {
        return [
          ...(alive ? [{ do: 'endTree' } as const] : []),
          { do: 'sealCheckpoint', checkpoint },
          {
            do: 'setState', state: 'checkpointed',
            changes: { pid: undefined, pidStartTime: undefined, lastCheckpoint: checkpoint.id, lastOperation: { ...operation!, ok: true, criuPid: undefined } },
            event: { type: 'checkpointed', checkpoint },
          },
        ];
      }
      // What it was judged by, in the error: an operator (and a failing test) can tell which fact was not as hoped.
      const judged = [
        `criu${operation?.criuPid ? ` (PID ${operation.criuPid})` : ''} is not at work`,
        `its dump log ${facts.dumpSucceeded ? 'says the dump succeeded' : `does not say the dump succeeded${facts.dumpLastLine ? ` (it ends: ${facts.dumpLastLine})` : ''}`}`,
        `the desktop's root${record.pid ? ` (PID ${record.pid})` : ''} is ${alive ? 'alive' : 'gone'}`,
        ...(checkpoint ? (checkpoint.leaveRunning ? ['the dump was a snapshot'] : []) : ['the checkpoint has no record']),
      ];
      const interrupted = { ...dumpInterrupted, errors: judged };
      const gone = { ...goneError, errors: judged };
      const steps: ReconcileStep[] = checkpoint?.state === 'dumping' ? [{ do: 'failCheckpoint', checkpoint, error: interrupted }] : [];
      const failed = operation ? { lastOperation: { ...operation, ok: false, criuPid: undefined } } : {};
      steps.push(alive
        ? { do: 'setState', state: 'running', changes: { lastError: interrupted, ...failed }, event: { type: 'failed', operation: 'dump', error: interrupted, checkpoint } }
        : { do: 'setState', state: 'failed', changes: { lastError: gone, pid: undefined, pidStartTime: undefined, ...failed }, event: { type: 'failed', operation: 'dump', error: gone, checkpoint } });
      return steps;
    }
    case 'restoring': {
      const root = facts.restoredRoot;
      if (root) {
        const kept = operation?.command?.includes('--tcp-established') ?? false;
        return [{
          do: 'setState', state: 'running',
          changes: { pid: root.pid, pidStartTime: root.startTime, lastCheckpoint: operation?.checkpoint, ...(operation ? { lastOperation: { ...operation, ok: true, criuPid: undefined } } : {}) },
          event: { type: 'restored', checkpoint, connections: kept ? 'kept' : 'closed' },
        }];
      }
      return [{
        do: 'setState', state: 'failed',
        changes: { lastError: restoreInterrupted, pid: undefined, pidStartTime: undefined, ...(operation ? { lastOperation: { ...operation, ok: false, criuPid: undefined } } : {}) },
        event: { type: 'failed', operation: 'restore', error: restoreInterrupted, checkpoint },
      }];
    }
    case 'stopping':
      return [{ do: 'finishStop' }];
    default:
      // starting or running: its starter died (the tree may live on), or the tree died by itself.
      if (alive) return [{ do: 'setState', state: 'running', changes: {}, event: { type: 'started' } }];
      return [{
        do: 'setState', state: 'failed',
        changes: { lastError: goneError, pid: undefined, pidStartTime: undefined },
        event: { type: 'failed', operation: record.state === 'starting' ? 'start' : undefined, error: goneError },
      }];
  }
}
