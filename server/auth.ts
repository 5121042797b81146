// Who may use this server: anyone on loopback; elsewhere only holders of the token (URL once, then a cookie), and,
// to watch one desktop and nothing else, holders of that desktop's view token (the audience link).
import 'server-only';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { desktopIdSegment } from '../lib/ids';

export const tokenCookie = 'freezeframe_token';
/** The audience's cookie, apart from the control one: watching a talk must not log the presenter out. */
export const viewCookie = 'freezeframe_view';

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect, so no login is asked. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

export interface Auth {
  /** undefined: no token needed (loopback). */
  token: string | undefined;
  /** The audience link's token for one desktop; undefined when no token is needed. */
  viewToken(desktopId: string): string | undefined;
  /**
   * Checks a request; a refused one has been answered already (401 without a token, 403 for a view token outside
   * its desktop's watch page, or a redirect that sets the cookie).
   */
  allowRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** 200: go ahead; 401: no token; 403: a view token, for another desktop's VNC or another WebSocket. */
  checkUpgrade(req: IncomingMessage): 200 | 401 | 403;
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

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
}

function presented(req: IncomingMessage): string | undefined {
  return bearer(req) ?? cookieValue(req.headers.cookie, tokenCookie);
}

/**
 * A view token names its desktop and proves it: "<desktop id>.<HMAC-SHA256 of 'view:<id>' keyed with the token>".
 * Derived, not stored: nothing to keep on disk, the same link for as long as the token (FREEZEFRAME_TOKEN) is the
 * same, one desktop's link opens no other desktop, and no view token can be turned into the control token.
 */
export function deriveViewToken(token: string, desktopId: string): string {
  return `${desktopId}.${createHmac('sha256', token).update(`view:${desktopId}`).digest('base64url')}`;
}

const viewTokenId = new RegExp(`^(${desktopIdSegment})\\.`);

/** The desktop a view token is good for, or undefined if it is no view token of this server. */
export function viewTokenDesktop(token: string, given: string | undefined): string | undefined {
  const id = viewTokenId.exec(given ?? '')?.[1];
  return id && tokensMatch(given, deriveViewToken(token, id)) ? id : undefined;
}

// Raw paths (not normalised: no "..", no percent-encoded slash can sneak past). Next.js's chunk names carry the
// route's brackets, percent-encoded ("%5Bid%5D").
const staticPath = /^\/_next\/static(?:\/(?:[\w~-]|%5[BbDd])(?:[\w.~-]|%5[BbDd])*)+$/;

/**
 * What a view token opens, for its own desktop only: the watch page, what it reads (the desktop's state without
 * the control password, and its events), the page's static files, and the VNC WebSocket (where the page has only
 * the view-only VNC password). Only reads: no action (a POST), no API write, no control page.
 */
export function viewAllows(desktopId: string, method: string, rawPath: string, upgrade = false): boolean {
  if (upgrade) return rawPath === `/api/desktops/${desktopId}/vnc`;
  if (method !== 'GET' && method !== 'HEAD') return false;
  return (
    rawPath === `/desktops/${desktopId}/watch` ||
    rawPath === `/api/desktops/${desktopId}/watch` ||
    rawPath === `/api/desktops/${desktopId}/watch/events` ||
    rawPath === `/api/desktops/${desktopId}/watch/thumbnail` ||
    rawPath === '/icon.svg' ||
    rawPath === '/favicon.ico' ||
    staticPath.test(rawPath)
  );
}

const rawPathOf = (req: IncomingMessage) => (req.url ?? '/').split('?')[0];

/**
 * fleetKey: the secret the fleet's hosts share (server/fleet/fleetKey.ts); a request with it as its bearer is a
 * fellow host's (a relay, a forwarded start) and is let in like one with the token. Only as a header, never a cookie.
 * secure: served over HTTPS (FREEZEFRAME_TLS_CERT): the cookies say Secure, so a browser never sends them in clear.
 */
export function createAuth(host: string, configured: string | undefined, fleetKey?: string, { secure = false }: { secure?: boolean } = {}): Auth {
  const flags = secure ? '; Secure' : '';
  const token = isLoopback(host) ? undefined : configured || randomBytes(24).toString('base64url');
  const fromPeer = (req: IncomingMessage) => fleetKey !== undefined && tokensMatch(bearer(req), fleetKey);
  /** The desktop whose view token the request carries (header or cookie), if any. */
  const viewerOf = (req: IncomingMessage) =>
    token ? viewTokenDesktop(token, bearer(req) ?? cookieValue(req.headers.cookie, viewCookie)) : undefined;
  const answer = (res: ServerResponse, status: 401 | 403) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(status === 401 ? 'unauthorized\n' : 'forbidden\n');
  };
  /** Trades a token in the URL for a cookie, and drops it from the address bar (and from the history). */
  const trade = (res: ServerResponse, url: URL, cookie: string) => {
    url.searchParams.delete('token');
    res.writeHead(303, { 'Set-Cookie': cookie, Location: url.pathname + url.search });
    res.end();
  };
  return {
    token,
    viewToken: (desktopId) => (token ? deriveViewToken(token, desktopId) : undefined),
    allowRequest(req, res) {
      if (!token) return true;
      if (tokensMatch(presented(req), token) || fromPeer(req)) return true;
      const url = new URL(req.url ?? '/', 'http://x');
      const fromUrl = url.searchParams.get('token') ?? undefined;
      if (tokensMatch(fromUrl, token)) {
        trade(res, url, `${tokenCookie}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${flags}`);
        return false;
      }
      const method = req.method ?? 'GET';
      const linked = viewTokenDesktop(token, fromUrl);
      if (linked && viewAllows(linked, method, rawPathOf(req))) {
        // Lax, not Strict: the audience opens the link from a chat or a slide (another site), and the redirect must
        // carry the cookie. It opens nothing but watching, so a cross-site request gains nothing from it.
        trade(res, url, `${viewCookie}=${encodeURIComponent(fromUrl!)}; HttpOnly; SameSite=Lax; Path=/${flags}`);
        return false;
      }
      const viewer = linked ?? viewerOf(req);
      if (viewer === undefined) {
        answer(res, 401);
        return false;
      }
      if (viewAllows(viewer, method, rawPathOf(req))) return true;
      answer(res, 403);
      return false;
    },
    checkUpgrade(req) {
      if (!token || tokensMatch(presented(req), token) || fromPeer(req)) return 200;
      const viewer = viewerOf(req);
      if (viewer === undefined) return 401;
      return viewAllows(viewer, 'GET', rawPathOf(req), true) ? 200 : 403;
    },
  };
}
