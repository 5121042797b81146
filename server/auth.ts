// Who may use this server: anyone on loopback; elsewhere only holders of the token (URL once, then a cookie).
import 'server-only';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';

export const tokenCookie = 'freezeframe_token';

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect, so no login is asked. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

export interface Auth {
  /** undefined: no token needed (loopback). */
  token: string | undefined;
  /** Checks a request; a refused one has been answered already (401, or a redirect that sets the cookie). */
  allowRequest(req: IncomingMessage, res: ServerResponse): boolean;
  allowUpgrade(req: IncomingMessage): boolean;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Constant time whatever the input: both sides are hashed to the same length first. */
export function tokensMatch(given: string | undefined, token: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function presented(req: IncomingMessage): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  return bearer ?? cookieValue(req.headers.cookie, tokenCookie);
}

export function createAuth(host: string, configured: string | undefined): Auth {
  const token = isLoopback(host) ? undefined : configured || randomBytes(24).toString('base64url');
  return {
    token,
    allowRequest(req, res) {
      if (!token) return true;
      if (tokensMatch(presented(req), token)) return true;
      const url = new URL(req.url ?? '/', 'http://x');
      const fromUrl = url.searchParams.get('token') ?? undefined;
      if (tokensMatch(fromUrl, token)) {
        // Trade the URL's token for a cookie, and drop it from the address bar (and from the history).
        url.searchParams.delete('token');
        res.writeHead(303, {
          'Set-Cookie': `${tokenCookie}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
          Location: url.pathname + url.search,
        });
        res.end();
        return false;
      }
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('unauthorized\n');
      return false;
    },
    allowUpgrade(req) {
      return !token || tokensMatch(presented(req), token);
    },
  };
}
