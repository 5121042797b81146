// The one error type operations throw: a code a UI or script can branch on, a message a person can read.

export type ErrorCode =
  | 'not_found'
  | 'busy'
  | 'bad_state'
  | 'invalid'
  | 'criu'
  | 'launch'
  | 'display_in_use'
  | 'images_missing'
  | 'untrusted_images'
  | 'gone'
  | 'untrusted'
  | 'internal';

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
