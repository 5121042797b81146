// Any thrown error as records and responses carry it: a code, a message and, for criu, CRIU's own explanation.
import type { CriuFailure } from './criu/errors';
import type { ErrorCode } from '../lib/errorCodes';
import type { ErrorInfo } from './desktops/records';

/**
 * An error as records and responses carry it. Recognised by name, not instanceof: Next.js bundles its own copy of
 * these classes, so an error thrown by the server's engine is no instance of the copy a route handler sees.
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  const e = error as { name?: string; message?: string; code?: ErrorCode; failure?: CriuFailure; details?: { error?: ErrorInfo } };
  const message = e?.message ?? String(error);
  switch (e?.name) {
    case 'CriuError': {
      const { exitCode, errors, logPath, hint } = e.failure!;
      return { code: 'criu', message, exitCode, errors, logPath, hint };
    }
    case 'FreezeframeError':
      return { ...(e.details?.error ?? {}), code: e.code ?? 'internal', message };
    case 'LaunchError':
      return { code: 'launch', message };
    case 'TransitionError':
      return { code: 'bad_state', message };
    default:
      return { code: 'internal', message };
  }
}
