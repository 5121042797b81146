// The one way this host talks to another host of the fleet (and to an https etcd): every HTTP call, streamed body
// and relayed WebSocket goes through here, so the fleet key is added and the TLS trust applied in one place. An
// https peer is reached only once its certificate verified against FREEZEFRAME_FLEET_CA (default: the system's CAs)
// for its name; nothing is written to it before that, so a peer that does not verify never sees the fleet key.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';

/** How this host trusts its peers (read once from the environment: fleetTrust()). */
export interface FleetTrust {
  /** PEM certificates trusted for an https peer; undefined: Node's own list (no system bundle found). */
  ca?: string[];
  /** Where ca came from, for the errors. */
  caSource: string;
  /**
   * The fleet key is never sent to an http:// peer. On when this host serves TLS itself (FREEZEFRAME_TLS_CERT) or
   * trusts a fleet CA (FREEZEFRAME_FLEET_CA), unless FREEZEFRAME_FLEET_REQUIRE_TLS=0; FREEZEFRAME_FLEET_REQUIRE_TLS=1
   * turns it on for a fleet with public certificates (no CA of its own).
   */
  requireTls: boolean;
}

/** Debian's (and Ubuntu's) bundle of the system's CAs: what update-ca-certificates writes, a private CA included. */
const systemBundle = '/etc/ssl/certs/ca-certificates.crt';

/** The PEM certificates in text (a bundle), each whole. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The trust described by env; a FREEZEFRAME_FLEET_CA that is missing or holds no certificate is an error. */
export function loadFleetTrust(env: Record<string, string | undefined> = process.env): FleetTrust {
  const file = env.FREEZEFRAME_FLEET_CA || undefined;
  let ca: string[] | undefined;
  let caSource: string;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`FREEZEFRAME_FLEET_CA: cannot read ${file}: ${(error as Error).message}`);
    }
    ca = pemCertificates(text);
    if (!ca.length) throw new Error(`FREEZEFRAME_FLEET_CA: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    caSource = `FREEZEFRAME_FLEET_CA (${file})`;
  } else if (existsSync(systemBundle)) {
    ca = pemCertificates(readFileSync(systemBundle, 'utf8'));
    caSource = `the system's CAs (${systemBundle})`;
  } else {
    caSource = "Node's built-in CAs";
  }
  const asked = env.FREEZEFRAME_FLEET_REQUIRE_TLS;
  if (asked !== undefined && asked !== '' && asked !== '0' && asked !== '1') throw new Error(`FREEZEFRAME_FLEET_REQUIRE_TLS is 0 or 1, not "${asked}"`);
  const requireTls = asked === '1' || (asked !== '0' && !!(file || env.FREEZEFRAME_TLS_CERT));
  return { ca, caSource, requireTls };
}

let cached: FleetTrust | undefined;
/** This process's trust, read once (main.ts reads it at start: a bad FREEZEFRAME_FLEET_CA stops the server there). */
export function fleetTrust(): FleetTrust {
  return (cached ??= loadFleetTrust());
}

/** A peer that cannot be talked to safely: its certificate, or an http:// URL where TLS is required. */
export class PeerTlsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerTlsError';
  }
}

/** TLS verification failures (OpenSSL's codes, and Node's for a name that does not match). */
const certificateCodes = /CERT|SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME/;

function refuseClear(url: URL, key: string | undefined, trust: FleetTrust): void {
  if (key && url.protocol === 'http:' && trust.requireTls) {
    throw new PeerTlsError(`refusing to send the fleet key to ${url.origin} in clear: this host requires TLS between the fleet's hosts (FREEZEFRAME_TLS_CERT or FREEZEFRAME_FLEET_CA is set; FREEZEFRAME_FLEET_REQUIRE_TLS=0 allows it); give that host an https FREEZEFRAME_PUBLIC_URL`);
  }
}

/**
 * A connection to url's host: TCP for http:, TLS for https: resolved only once the certificate verified for the
 * URL's name (an IP address: its subjectAltName IP). Rejects with a PeerTlsError that says why when it does not.
 */
export function connectPeer(url: URL, { trust = fleetTrust(), timeoutMs = 10_000, key }: { trust?: FleetTrust; timeoutMs?: number; key?: string } = {}): Promise<net.Socket> {
  try {
    refuseClear(url, key, trust);
  } catch (error) {
    return Promise.reject(error);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`${url.origin}: not an http(s) URL`));
  const port = Number(url.port || (secure ? 443 : 80));
  return new Promise((resolve, reject) => {
    const socket = secure
      ? tls.connect({ host, port, ca: trust.ca, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: true, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`no connection to ${url.host} within ${timeoutMs} ms`)), timeoutMs);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      resolve(socket); // its error listener stays (a later error only destroys it): the caller adds its own
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      if (secure && certificateCodes.test(String(error.code))) {
        reject(new PeerTlsError(`the TLS certificate of ${url.host} does not verify against ${trust.caSource}: ${error.code}: ${error.message}; nothing was sent to it (not the fleet key)`));
      } else if (secure && /SSL|TLS|EPROTO/.test(String(error.code) + error.message)) {
        reject(new PeerTlsError(`no TLS with ${url.host}: ${error.code ?? ''} ${error.message} (is it serving https?); nothing was sent to it`));
      } else reject(Object.assign(new Error(`${url.host}: ${error.code ?? error.message}`), { code: error.code, cause: error }));
    });
  });
}

/**
 * An upgrade (the relayed VNC WebSocket) on a peer: the verified connection with the request's head written (its
 * Host, the headers given, the fleet key); the caller writes the rest and pipes both ways.
 */
export async function peerUpgrade(url: URL, path: string, headers: [string, string][], { key, trust = fleetTrust(), timeoutMs = 10_000 }: { key?: string; trust?: FleetTrust; timeoutMs?: number }): Promise<net.Socket> {
  const socket = await connectPeer(url, { trust, timeoutMs, key });
  const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (key) lines.push(`Authorization: Bearer ${key}`);
  socket.setNoDelay(true); // a VNC session's small messages, each at once
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  return socket;
}

export interface PeerInit extends RequestInit {
  /** The fleet key: sent as Authorization: Bearer, only over a connection that verified (or plain http allowed). */
  key?: string;
  trust?: FleetTrust;
  /** Until the answer's headers (the body streams after); default 30 s, unless init.signal is given. */
  timeoutMs?: number;
}

/** The body of a RequestInit as something http.request can write or pipe. */
function bodySource(body: RequestInit['body']): Buffer | Readable | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ReadableStream) return Readable.fromWeb(body as import('node:stream/web').ReadableStream);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  throw new Error('a peer call\'s body is a string, bytes or a stream');
}

/**
 * A call to url with the fleet key, answered as fetch answers. http: goes through fetch as before (its pooled
 * connections); https: over connectPeer's verified connection, so the request, and its key, is written only after
 * verification. One connection per call: 3.5 ms a call on loopback against 1.4 ms for pooled http (P-256 certificates,
 * load 3), for a fleet's few calls a second; a stream (events, an archive) pays it once.
 * No redirect is followed with the key (a peer's API answers without one, and the key must not follow one elsewhere).
 */
export async function peerFetch(target: string | URL, init: PeerInit = {}): Promise<Response> {
  const { key, trust = fleetTrust(), timeoutMs = 30_000, ...rest } = init;
  const url = new URL(target);
  refuseClear(url, key, trust);
  const headers = new Headers(rest.headers);
  if (key) headers.set('Authorization', `Bearer ${key}`);
  const signal = rest.signal ?? AbortSignal.timeout(timeoutMs);
  // A call with the key follows no redirect either (fetch would follow one to wherever it pointed).
  if (url.protocol === 'http:') return fetch(url, { ...rest, headers, signal, redirect: key ? 'manual' : rest.redirect });
  if (url.protocol !== 'https:') throw new Error(`${url.origin}: not an http(s) URL`);
  signal.throwIfAborted();
  const socket = await connectPeer(url, { trust, timeoutMs });
  if (signal.aborted) {
    socket.destroy();
    signal.throwIfAborted();
  }
  if (!headers.has('Host')) headers.set('Host', url.host);
  const body = bodySource(rest.body);
  if (Buffer.isBuffer(body)) headers.set('Content-Length', String(body.length));
  return new Promise<Response>((resolve, reject) => {
    const req = http.request({
      method: rest.method ?? 'GET',
      path: url.pathname + url.search,
      headers: Object.fromEntries(headers),
      createConnection: () => socket,
    });
    const abort = () => {
      const reason = signal.reason instanceof Error ? signal.reason : new Error('aborted');
      req.destroy(reason);
      socket.destroy();
      reject(reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    req.once('error', (error) => {
      signal.removeEventListener('abort', abort);
      reject(error);
    });
    req.once('response', (res) => {
      const out = new Headers();
      for (let i = 0; i < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
      const status = res.statusCode ?? 502;
      const empty = status === 204 || status === 304 || rest.method === 'HEAD';
      // The answer's body streams; an abort afterwards ends it (the signal of an event stream).
      res.once('close', () => signal.removeEventListener('abort', abort));
      resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream), { status, statusText: res.statusMessage, headers: out }));
    });
    if (body instanceof Readable) {
      body.once('error', (error) => req.destroy(error));
      body.pipe(req);
    } else req.end(body);
  });
}
