// The error type the bridge reports: a code to branch on, the desktop it concerns, and the underlying cause.

export type BridgeErrorCode =
  | 'lookup_failed'
  | 'upgrade_failed'
  | 'vnc_unreachable'
  | 'vnc_error'
  | 'viewer_error'
  | 'heartbeat'
  | 'hold_limit'
  | 'gate_refused'
  | 'event_failed';

export class BridgeError extends Error {
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
    readonly details: { desktopId?: string; port?: number; [key: string]: unknown } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BridgeError';
  }
}
