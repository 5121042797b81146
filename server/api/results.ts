// The typed result every operation returns, and the one mapping from engine errors to it (and to HTTP statuses).
import 'server-only';
import { z } from 'zod';
import type { ErrorInfo } from '../desktops/records';

export type { ApiError, Failure, Result, Status } from './resultTypes';
import type { ApiError, Failure, Result, Status } from './resultTypes';

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

/**
 * The engine's errors by their shape, not instanceof: the engine is loaded by server/main.ts, while this module is
 * bundled by Next.js, so each side has its own copy of the FreezeframeError and CriuError classes.
 */
interface EngineErrorShape {
  name?: string;
  message?: string;
  code?: unknown;
  details?: { error?: ErrorInfo };
  failure?: { exitCode?: number; errors?: string[]; logPath?: string; hint?: string };
}

function describe(error: unknown): ApiError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as EngineErrorShape;
  const message = e.message ?? String(error);
  if (e.name === 'FreezeframeError' && typeof e.code === 'string') {
    // A failed criu run is wrapped: its details carry CRIU's exit code, first Error lines, log and hint.
    const { exitCode, errors, logPath, hint } = e.details?.error ?? {};
    return { code: e.code, message, exitCode, errors, logPath, hint };
  }
  if (e.name === 'CriuError' && e.failure) {
    const { exitCode, errors, logPath, hint } = e.failure;
    return { code: 'criu', message, exitCode, errors, logPath, hint };
  }
  if (e.name === 'LaunchError') return { code: 'launch', message };
  return { code: 'internal', message };
}

/** Any thrown error as a Failure, with the status its code maps to. */
export function failure(error: unknown): Failure {
  const described = describe(error);
  const status = statusOf(described.code);
  // A criu failure is reported whole to the caller; only an unexpected error needs its stack in the server log.
  if (described.code === 'internal') console.error(error);
  else if (status === 500) console.error(`[api] ${described.code}: ${described.message}`);
  // JSON drops undefined fields anyway; dropping them here keeps action results as lean as HTTP bodies.
  const apiError = Object.fromEntries(Object.entries(described).filter(([, v]) => v !== undefined)) as ApiError;
  return { ok: false, status, error: apiError };
}

export function invalid(error: z.ZodError, what = 'input'): Failure {
  const { formErrors, fieldErrors } = z.flattenError(error);
  const fields = fieldErrors as Record<string, string[] | undefined>;
  const first = formErrors[0] ?? Object.entries(fields).map(([k, v]) => `${k}: ${v?.[0]}`)[0] ?? 'invalid';
  const hasFields = Object.keys(fields).length > 0;
  return { ok: false, status: 400, error: { code: 'invalid', message: `invalid ${what}: ${first}`, ...(hasFields ? { fields: fields as Record<string, string[]> } : {}) } };
}

/** Runs an engine call, turning whatever it throws into a Failure. */
export async function attempt<T extends object>(fn: () => Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, ...(await fn()) };
  } catch (error) {
    return failure(error);
  }
}
