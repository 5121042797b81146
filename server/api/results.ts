// The typed result every operation returns, and the one mapping from engine errors to it (and to HTTP statuses).
import 'server-only';
import { z } from 'zod';
import { toErrorInfo } from '../desktops/registry';
import type { ErrorInfo } from '../desktops/records';
import { FreezeframeError } from '../errors';

export type { ApiError, Failure, Result, Status } from './resultTypes';
import type { Failure, Result, Status } from './resultTypes';

// Conflicts are about the desktop's current state: retrying later, or after another operation, can succeed.
const statusByCode: Record<string, Status> = {
  invalid: 400,
  not_found: 404,
  busy: 409,
  bad_state: 409,
  display_in_use: 409,
  images_missing: 409,
};

export function statusOf(code: string): Status {
  return statusByCode[code] ?? 500;
}

/** Any thrown error as a Failure; a failed criu run keeps CRIU's exit code, first Error lines, log and hint. */
export function failure(error: unknown): Failure {
  const outer = toErrorInfo(error);
  // The registry wraps a CriuError in a FreezeframeError whose details carry CRIU's own ErrorInfo.
  const inner = error instanceof FreezeframeError ? (error.details.error as ErrorInfo | undefined) : undefined;
  const { exitCode, errors, logPath, hint } = inner ?? outer;
  const status = statusOf(outer.code);
  if (status === 500) console.error(error);
  return { ok: false, status, error: { code: outer.code, message: outer.message, exitCode, errors, logPath, hint } };
}

export function invalid(error: z.ZodError, what = 'input'): Failure {
  const { formErrors, fieldErrors } = z.flattenError(error);
  const fields = fieldErrors as Record<string, string[] | undefined>;
  const first = formErrors[0] ?? Object.entries(fields).map(([k, v]) => `${k}: ${v?.[0]}`)[0] ?? 'invalid';
  return { ok: false, status: 400, error: { code: 'invalid', message: `invalid ${what}: ${first}`, fields: fieldErrors as Record<string, string[]> } };
}

/** Runs an engine call, turning whatever it throws into a Failure. */
export async function attempt<T extends object>(fn: () => Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, ...(await fn()) };
  } catch (error) {
    return failure(error);
  }
}
