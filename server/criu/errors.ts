// The error every failed criu command becomes: CRIU's own explanation, kept whole.

export interface CriuFailure {
  op: string;
  command: string[];
  exitCode: number | undefined;
  errors: string[];
  logPath?: string;
  hint?: string;
  timedOut?: boolean;
}

export class CriuError extends Error {
  readonly failure: CriuFailure;

  constructor(failure: CriuFailure, options?: { cause?: unknown }) {
    const why = failure.timedOut
      ? 'timed out'
      : failure.exitCode === 0
        ? 'exited 0 but its log does not end in success'
        : `exited ${failure.exitCode ?? 'on a signal'}`;
    const first = failure.errors[0] ? `: ${failure.errors[0]}` : '';
    const log = failure.logPath ? ` (log: ${failure.logPath})` : '';
    super(`criu ${failure.op} ${why}${first}${log}`, options);
    this.name = 'CriuError';
    this.failure = failure;
  }
}
