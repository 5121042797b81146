// The typed result every operation returns, and the one mapping from engine errors to it (and to HTTP statuses).
import 'server-only';
import type { ZodError } from 'zod';
import { toErrorInfo } from '../errorInfo';

export type { ApiError, Failure, Result, Status } from '../../lib/resultTypes';
import type { ApiError, ErrorCode, Failure, Result, Status } from '../../lib/resultTypes';

// Conflicts are about the desktop's current state: retrying later, or after another operation, can succeed.
const statusByCode: Partial<Record<ErrorCode, Status>> = {
  invalid: 400,
  not_found: 404,
  busy: 409,
  bad_state: 409,
  display_in_use: 409,
  images_missing: 409,
  // An archive this installation cannot trace to itself or a trusted key: understood, and refused (403 stays the
  // answer of the access check, so a client can tell "not allowed" from "not this archive").
  untrusted: 422,
  // Images that ask for more than their desktop may have (server/criu/trust.ts): no retry will change that.
  untrusted_images: 422,
  // Uploads: an archive over the size limit, or a body that is no archive at all.
  too_large: 413,
  unsupported_media_type: 415,
  // A host-to-host call: another host of the fleet did not answer, or refused the fleet's key.
  unreachable: 502,
  unauthorized: 401,
};

export function statusOf(code: ErrorCode): Status {
  return statusByCode[code] ?? 500;
}

/** Any thrown error as a Failure, with the status its code maps to. */
export function failure(error: unknown): Failure {
  const described: ApiError = toErrorInfo(error);
  const status = statusOf(described.code);
  // A criu failure is reported whole to the caller; only an unexpected error needs its stack in the server log.
  if (described.code === 'internal') console.error(error);
  else if (status === 500) console.error(`[api] ${described.code}: ${described.message}`);
  // JSON drops undefined fields anyway; dropping them here keeps action results as lean as HTTP bodies.
  const apiError = Object.fromEntries(Object.entries(described).filter(([, v]) => v !== undefined)) as ApiError;
  return { ok: false, status, error: apiError };
}

/** zod's flattenError, by hand: zod itself is loaded only where there is input to check (see operations.ts). */
function flatten(error: ZodError): { formErrors: string[]; fieldErrors: Record<string, string[]> } {
  const formErrors: string[] = [];
  const fieldErrors: Record<string, string[]> = {};
  for (const issue of error.issues) {
    if (issue.path.length === 0) formErrors.push(issue.message);
    else (fieldErrors[String(issue.path[0])] ??= []).push(issue.message);
  }
  return { formErrors, fieldErrors };
}

export function invalid(error: ZodError, what = 'input'): Failure {
  const { formErrors, fieldErrors } = flatten(error);
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
