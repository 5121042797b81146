// The admission check every request and upgrade passes before any handler runs: an allowed Host (no DNS
// rebinding), and, for whatever changes state, the dashboard's own origin (no cross-site request). Pure: headers in,
// a verdict out.
import { isIP } from 'node:net';
import os from 'node:os';

export interface Refusal {
  status: 403;
  code: 'forbidden_host' | 'cross_origin';
  message: string;
}

export interface AdmissionOptions {
  /** The port the server listens on. */
  port: number;
  /** The address it is bound to (HOST). */
  bindHost: string;
  /** FREEZEFRAME_ALLOWED_HOSTS: names (or name:port) the operator serves it under, e.g. behind a reverse proxy. */
  allowedHosts?: string;
  /** The machine's own addresses, allowed when bound to every address (0.0.0.0 or ::). */
  localAddresses?: () => string[];
}

export interface Admission {
  /** The Host header values served. */
  readonly hosts: ReadonlySet<string>;
  /** Names the operator allowed at any port. */
  readonly anyPort: ReadonlySet<string>;
  /** undefined: go on; otherwise the refusal to answer with (nothing served, nothing changed). */
  check(req: { method?: string; headers: Record<string, string | string[] | undefined> }, upgrade?: boolean): Refusal | undefined;
}

/** Methods that only read: everything else changes state and must come from the dashboard's own origin. */
const reading = new Set(['GET', 'HEAD', 'OPTIONS']);

const bracket = (host: string) => (isIP(host) === 6 ? `[${host}]` : host);

function machineAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, '')));
}

/** "name", "name:port", "[v6]", "[v6]:port" -> { name, port? }, lower case; undefined if it is none of these. */
export function splitHost(value: string): { name: string; port?: number } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(value.trim().toLowerCase());
  if (!m) return undefined;
  return { name: m[1], port: m[2] === undefined ? undefined : Number(m[2]) };
}

export function createAdmission({ port, bindHost, allowedHosts, localAddresses = machineAddresses }: AdmissionOptions): Admission {
  const hosts = new Set<string>();
  const anyPort = new Set<string>();
  const serve = (name: string) => {
    const n = bracket(name.toLowerCase());
    hosts.add(`${n}:${port}`);
    // A browser leaves the default port out of Host.
    if (port === 80) hosts.add(n);
  };
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '[::]' || bindHost === '';
  for (const name of ['localhost', '127.0.0.1', '::1']) serve(name);
  if (!wildcard) serve(bindHost.replace(/^\[|\]$/g, ''));
  // Bound to every address: the machine's own addresses are its names too. An IP literal cannot be rebound (the
  // attacker's page would have to be served from that very address), so this opens nothing to rebinding.
  else for (const address of localAddresses()) serve(address);
  for (const entry of (allowedHosts ?? '').split(/[\s,]+/).filter(Boolean)) {
    const parsed = splitHost(entry);
    if (!parsed) throw new Error(`FREEZEFRAME_ALLOWED_HOSTS: "${entry}" is no host name (name or name:port)`);
    if (parsed.port === undefined) anyPort.add(parsed.name);
    else hosts.add(`${parsed.name}:${parsed.port}`);
  }

  const hostAllowed = (host: string | undefined) => {
    if (!host) return false;
    const value = host.trim().toLowerCase();
    if (hosts.has(value)) return true;
    const parsed = splitHost(value);
    return !!parsed && anyPort.has(parsed.name);
  };

  const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };

  return {
    hosts,
    anyPort,
    check(req, upgrade = false) {
      const host = header(req.headers, 'host');
      if (!hostAllowed(host)) {
        return {
          status: 403,
          code: 'forbidden_host',
          message: `this server does not answer to the host name "${host ?? ''}"; an operator who serves it under that name (a reverse proxy) lists it in FREEZEFRAME_ALLOWED_HOSTS`,
        };
      }
      // A WebSocket handshake is a GET, but the browser applies no same-origin policy to it: it is checked like a
      // change. Reads need no origin: the answer reaches another site's page only through CORS, which is never sent.
      if (!upgrade && reading.has((req.method ?? 'GET').toUpperCase())) return undefined;
      const origin = header(req.headers, 'origin');
      if (origin !== undefined) {
        // "null": a sandboxed frame, a data: or file: page, a redirect across sites. Never the dashboard.
        let originHost: string | undefined;
        try {
          const url = new URL(origin);
          if (url.protocol === 'http:' || url.protocol === 'https:') originHost = url.host;
        } catch {
          // not a URL: refused below
        }
        // The Host was allowed above, so an origin equal to it is the dashboard's own, under whatever name it was
        // opened (behind a proxy that terminates TLS, the origin says https and Host the same name).
        if (originHost === undefined || originHost !== host!.trim().toLowerCase()) {
          return { status: 403, code: 'cross_origin', message: `a request from ${origin} may not change anything here: only the dashboard's own pages may` };
        }
        return undefined;
      }
      // No Origin: a browser still says where a request came from in Sec-Fetch-Site; a client that is no browser (the
      // CLI, curl, scripts) sends neither, and is welcome.
      const site = header(req.headers, 'sec-fetch-site');
      if (site !== undefined && site !== 'same-origin') {
        return { status: 403, code: 'cross_origin', message: `a ${site} request may not change anything here: only the dashboard's own pages may` };
      }
      return undefined;
    },
  };
}
