// A desktop's states and the only transitions allowed between them.

export const desktopStates = [
  'starting',
  'running',
  'checkpointing',
  'checkpointed',
  'restoring',
  'stopping',
  'stopped',
  'failed',
] as const;
export type DesktopState = (typeof desktopStates)[number];

// stopping: recorded before the tree is killed, so that viewers and pages know the desktop is going away (and do
// not reconnect into its dying Xvnc); it ends in stopped.
const allowed: Record<DesktopState, readonly DesktopState[]> = {
  starting: ['running', 'failed', 'stopped'],
  // running -> failed: the tree died by itself.
  running: ['checkpointing', 'stopping', 'stopped', 'failed'],
  // checkpointing -> running: the dump failed and CRIU let the tree go on (or a snapshot that leaves it running).
  checkpointing: ['checkpointed', 'running', 'failed'],
  checkpointed: ['restoring', 'stopped'],
  // restoring -> checkpointed/stopped/failed: the restore failed and the desktop is back where it was.
  restoring: ['running', 'checkpointed', 'stopped', 'failed'],
  stopping: ['stopped'],
  stopped: ['restoring'],
  failed: ['restoring', 'stopping', 'stopped'],
};

export class TransitionError extends Error {
  constructor(
    readonly from: DesktopState,
    readonly to: DesktopState,
  ) {
    super(`a desktop cannot go from ${from} to ${to}`);
    this.name = 'TransitionError';
  }
}

export function canTransition(from: DesktopState, to: DesktopState): boolean {
  return allowed[from].includes(to);
}

export function assertTransition(from: DesktopState, to: DesktopState): void {
  if (!canTransition(from, to)) throw new TransitionError(from, to);
}

/** States in which the desktop's process tree is (meant to be) alive. */
export function isLive(state: DesktopState): boolean {
  return state === 'starting' || state === 'running' || state === 'checkpointing';
}
