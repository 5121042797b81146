// The one error type operations throw: a code a UI or script can branch on, a message a person can read.
import type { ErrorCode } from '../lib/errorCodes';

export type { ErrorCode };

export class FreezeframeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FreezeframeError';
  }
}
