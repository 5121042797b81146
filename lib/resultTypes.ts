// The shapes of operation results, importable by client components (types only, no server code).
import type { ErrorCode } from './errorCodes';

export type { ErrorCode };

export type Status = 400 | 401 | 404 | 409 | 413 | 415 | 422 | 500 | 502;

/** What the HTTP API sends as {error: …} and what the pages render. */
export interface ApiError {
  code: ErrorCode;
  message: string;
  /** CRIU's exit code, its first "Error (…)" lines, its log, and what to do about a known cause. */
  exitCode?: number;
  errors?: string[];
  logPath?: string;
  hint?: string;
  /** Invalid input: the messages per field. */
  fields?: Record<string, string[]>;
}

export type Failure = { ok: false; status: Status; error: ApiError };
export type Result<T extends object> = ({ ok: true } & T) | Failure;
