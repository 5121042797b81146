// The headers every answer carries: no framing by another site, only the dashboard's own scripts, no sniffing, no
// referrer leaving the dashboard (and the dashboard's own Origin on its own form posts).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The Content-Security-Policy for one response. Next.js writes inline scripts (its RSC payload) into every page; it
 * gives them the nonce it finds in the request's own Content-Security-Policy header, so the server sets the same
 * policy on the request and on the response. Styles may be inline (React style props and Next's style tags are not
 * code). Dev mode's refresh needs eval; production never does.
 */
export function contentSecurityPolicy(nonce: string, dev = false): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    // Thumbnails are served by the dashboard; noVNC draws its cursor from data: and blob: URLs.
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    // fetch, EventSource and the VNC WebSocket: all to the dashboard itself ('self' covers ws: to the same host).
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const fixedHeaders: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  // The audience link and the control token travel in URLs only until they are traded for a cookie; even so,
  // nothing of an address here goes to another site: same-origin sends a referrer to the dashboard itself only.
  // Not no-referrer: under it a browser's own form post (the start form's server action, submitted natively with
  // scripts off or by a click before React hydrated) carries `Origin: null` (Fetch, "append a request Origin
  // header": a non-GET request that is not CORS-mode gets null under no-referrer; under same-origin only when it
  // goes to another origin), and server/admission.ts refuses null, rightly (a sandboxed frame or a data: page sends
  // it): the dashboard's own form was refused as cross_origin (a CI run of e2e/fleetTls; e2e/nativeForm proves it).
  'Referrer-Policy': 'same-origin',
  // For browsers that predate frame-ancestors.
  'X-Frame-Options': 'DENY',
  // Another site's window cannot script ours through window.opener, nor embed our responses (thumbnails,
  // exports) through no-cors requests.
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Sets the headers on the response, and the nonce on the request for Next.js to find. */
export function applySecurityHeaders(req: IncomingMessage, res: ServerResponse, dev = false): void {
  const csp = contentSecurityPolicy(randomBytes(16).toString('base64'), dev);
  req.headers['content-security-policy'] = csp;
  res.setHeader('Content-Security-Policy', csp);
  for (const [name, value] of Object.entries(fixedHeaders)) res.setHeader(name, value);
}
