// The presenter's step list, from the desktop's record as it changes: each criu operation with its exact command,
// how long it took, and the log's verdict (or CRIU's errors). Pure: fed by events, action results and rereads alike.
import type { DesktopView } from '@/lib/viewTypes';

export interface OperationStep {
  /** kind and start time: one operation, however many times its record is seen. */
  key: string;
  kind: 'dump' | 'restore';
  checkpoint?: string;
  startedAt: string;
  command?: string[];
  ms?: number;
  /** undefined while it runs. */
  ok?: boolean;
  /** The log's verdict line ("Dumping finished successfully"). */
  verdict?: string;
  message?: string;
  errors?: string[];
  hint?: string;
}

const maxSteps = 50;

/** The steps with the desktop's latest operation added or brought up to date (oldest first). */
export function noteOperation(steps: OperationStep[], desktop: DesktopView): OperationStep[] {
  const op = desktop.lastOperation;
  if (!op || (op.kind !== 'dump' && op.kind !== 'restore')) return steps;
  const key = `${op.kind}@${op.startedAt}`;
  const at = steps.findIndex((s) => s.key === key);
  const failed = op.ok === false ? desktop.lastError : undefined;
  const step: OperationStep = {
    key,
    kind: op.kind,
    checkpoint: op.checkpoint,
    startedAt: op.startedAt,
    command: op.command?.length ? op.command : at >= 0 ? steps[at].command : undefined,
    ms: op.ms,
    ok: op.ok,
    verdict: op.verdict,
    message: failed?.message,
    errors: failed?.errors,
    hint: failed?.hint,
  };
  if (at >= 0) {
    // A record seen late (an older read) must not take a finished step back to running.
    if (steps[at].ok !== undefined && step.ok === undefined) return steps;
    return steps.with(at, step);
  }
  return [...steps, step].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).slice(-maxSteps);
}

/** What the step does, in one sentence for the audience. */
export function explainStep(step: OperationStep): string {
  if (step.kind === 'restore') {
    return 'criu restore: recreates every process of the desktop from the images, with its memory, files and the viewers’ TCP connections, then lets them run on.';
  }
  return step.command?.includes('--leave-running')
    ? 'criu dump --leave-running: freezes the desktop’s processes, writes their memory, files and sockets to images, and lets them run on (a snapshot).'
    : 'criu dump: freezes every process of the desktop, writes their memory, files and sockets to images, then ends them: the picture stops.';
}
