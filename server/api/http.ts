// Route handlers' side of the results: a Result as a JSON response, and a request body read without surprises.
import 'server-only';
import type { Failure, Result } from './results';

/** {…payload} with okStatus, or {error:{code,message,hint?,errors?,logPath?}} with the failure's status. */
export function respond<T extends object>(result: Result<T>, okStatus = 200): Response {
  if (!result.ok) return Response.json({ error: result.error }, { status: result.status });
  const { ok: _ok, ...payload } = result;
  return Response.json(payload, { status: okStatus });
}

/** The JSON body; an empty body is {} (every option is optional), a malformed one a 400. */
export async function jsonBody(request: Request): Promise<{ ok: true; body: unknown } | Failure> {
  const text = await request.text();
  if (text.trim() === '') return { ok: true, body: {} };
  try {
    return { ok: true, body: JSON.parse(text) };
  } catch (error) {
    return { ok: false, status: 400, error: { code: 'invalid', message: `the body is not JSON: ${(error as Error).message}` } };
  }
}
