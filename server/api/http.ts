// Route handlers' side of the results: a Result as a JSON response, and a request body read without surprises.
import 'server-only';
import type { Failure, Result } from './results';

/** {…payload} with okStatus, or {error:{code,message,hint?,errors?,logPath?}} with the failure's status. */
export function respond<T extends object>(result: Result<T>, okStatus = 200): Response {
  const { status, body } = replyOf(result, okStatus);
  return Response.json(body, { status });
}

/** What respond() sends, as a status and a body: the server's own routes (fastRoutes.ts) write it themselves. */
export function replyOf<T extends object>(result: Result<T>, okStatus = 200): { status: number; body: object } {
  if (!result.ok) return { status: result.status, body: { error: result.error } };
  const { ok: _ok, ...payload } = result;
  return { status: okStatus, body: payload };
}

/**
 * Whether a Content-Type is JSON's. A page of another site can send text/plain, a form's types or no type at all
 * without asking first (no CORS preflight); only application/json needs the preflight this server never grants.
 */
export const isJson = (type: string | null) => /^application\/json\s*(;|$)/i.test(type ?? '');

/**
 * The JSON body; an empty body is {} (every option is optional), a malformed one a 400, a body of another type a
 * 415. An empty body may come without a type (`curl -X POST`), never with another one.
 */
export async function jsonBody(request: Request): Promise<{ ok: true; body: unknown } | Failure> {
  return parseJsonBody(request.headers.get('content-type'), await request.text());
}

/** jsonBody's rules for a body already read (the server's own routes, fastRoutes.ts). */
export function parseJsonBody(type: string | null, text: string): { ok: true; body: unknown } | Failure {
  if (type !== null && !isJson(type)) {
    return {
      ok: false,
      status: 415,
      error: { code: 'unsupported_media_type', message: `send the body as application/json (Content-Type: application/json), not ${type}` },
    };
  }
  if (text.trim() === '') return { ok: true, body: {} };
  if (!isJson(type)) {
    return { ok: false, status: 415, error: { code: 'unsupported_media_type', message: 'send the body as application/json (Content-Type: application/json)' } };
  }
  try {
    return { ok: true, body: JSON.parse(text) };
  } catch (error) {
    return { ok: false, status: 400, error: { code: 'invalid', message: `the body is not JSON: ${(error as Error).message}` } };
  }
}
