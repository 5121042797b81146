// The two calls whose time is the product's (checkpoint, restore), served by the HTTP server itself rather than
// through Next.js's router: the same operations, body rules and JSON as their route handlers under app/api/.
//
// Why (measured, bench/results/overhead.md): Next took 4-7 ms from a request's arrival to the route handler's first
// line and 4-7 ms from its Response to the client's last byte, per call; a bare Node handler answers a POST in
// 0.9 ms round trip. Against a raw criu dump of ~150 ms that was most of the 15 % the API may add. The route
// handlers stay (the same answers for `next dev`, and one place that documents each call); admission (Host,
// origin), the token and the security headers are applied before this, as for every request.
import 'server-only';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonBody, replyOf } from './http';
import { checkpointDesktop, restoreCheckpoint } from './operations';
import { trace } from '../trace';

// Written as respond() would (the same status and JSON), without a Response to build and read back (0.3-0.5 ms).
const routes: { method: string; path: RegExp; run: (id: string, body: unknown) => Promise<{ status: number; body: object }> }[] = [
  { method: 'POST', path: /^\/api\/desktops\/([^/]+)\/checkpoint$/, run: async (id, body) => replyOf(await checkpointDesktop(id, body, { replyFirst: true }), 201) },
  { method: 'POST', path: /^\/api\/checkpoints\/([^/]+)\/restore$/, run: async (id, body) => replyOf(await restoreCheckpoint(id, body)) },
];

/** Serves the request when it is one of these calls (true), else leaves it to Next (false). */
export function serveFast(req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? '/';
  const pathname = url.split('?')[0];
  const route = routes.find((r) => r.method === req.method && r.path.test(pathname));
  if (!route) return false;
  let id: string;
  try {
    id = decodeURIComponent(route.path.exec(pathname)![1]);
  } catch {
    return false; // Next answers a malformed escape as it does for any path
  }
  const t = trace(`http ${pathname}`);
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    void (async () => {
      const body = parseJsonBody(req.headers['content-type'] ?? null, Buffer.concat(chunks).toString('utf8'));
      const reply = body.ok ? await route.run(id, body.body) : replyOf(body);
      const text = JSON.stringify(reply.body);
      res.statusCode = reply.status;
      res.setHeader('content-type', 'application/json');
      t.step('operation');
      res.end(text, () => t.done());
    })().catch((error: unknown) => {
      console.error(error);
      if (!res.headersSent) res.statusCode = 500;
      res.end('internal error');
    });
  });
  return true;
}
