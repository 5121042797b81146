// freezeframe/client: a typed client over Freezeframe's HTTP API, for test suites and scripts (plain Node >= 20.9,
// no build step: this file is the package's entry, its types are index.d.ts). Nothing of the server is imported.
//
// What the server asks of a client that is no browser (server/admission.ts, server/auth.ts): no Origin header (Node's
// fetch sends none, nor Sec-Fetch-Site), JSON bodies typed application/json (anything else is a 415), and, when the
// server is bound to another address than loopback, its token as `Authorization: Bearer <token>`.

/** The id patterns of lib/ids.ts: a bad id is refused here, before any request. */
const desktopIdPattern = /^d-[a-z0-9]{1,60}$/;
const checkpointIdPattern = /^c-[a-z0-9]{1,60}$/;

/** A failed call: the server's error code and message (lib/errorCodes.ts), its HTTP status, and CRIU's details. */
export class FreezeframeError extends Error {
  constructor(code, message, status, details = {}) {
    super(message);
    this.name = 'FreezeframeError';
    this.code = code;
    this.status = status;
    for (const key of ['exitCode', 'errors', 'logPath', 'hint', 'fields']) {
      if (details[key] !== undefined) this[key] = details[key];
    }
  }
}

/**
 * The error an answer that is not a success stands for. The API's own failures are JSON `{error: {code, message, …}}`
 * (README, "HTTP API"); the auth check answers 401 and 403 as plain text before any route runs; anything else (a
 * proxy's page) keeps its status and text.
 */
export function errorFromResponse(status, text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: below
  }
  const error = body && typeof body === 'object' ? body.error : undefined;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    return new FreezeframeError(error.code, error.message, status, error);
  }
  if (status === 401) {
    return new FreezeframeError('unauthorized', 'the server asks for its token: pass { token } (or set FREEZEFRAME_TOKEN) as the server printed it', status);
  }
  if (status === 403) return new FreezeframeError('forbidden', `the server refused the request: ${text.trim() || 'forbidden'}`, status);
  return new FreezeframeError('internal', `HTTP ${status}: ${text.trim().slice(0, 500) || '(no body)'}`, status);
}

function checkId(kind, id) {
  const pattern = kind === 'desktop' ? desktopIdPattern : checkpointIdPattern;
  if (typeof id !== 'string' || !pattern.test(id)) {
    throw new FreezeframeError('invalid', `${JSON.stringify(id)} is not a ${kind} id (${kind === 'desktop' ? 'd-' : 'c-'}… as the server makes them)`, 0);
  }
  return id;
}

/** The server's root without a trailing slash; only http and https (what the server speaks, or a proxy before it). */
export function serverRoot(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new FreezeframeError('invalid', `${JSON.stringify(url)} is not a URL (e.g. http://127.0.0.1:3000)`, 0);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new FreezeframeError('invalid', `${url}: only http and https URLs`, 0);
  }
  if (parsed.search || parsed.hash) throw new FreezeframeError('invalid', `${url}: the server's URL takes no query or fragment`, 0);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** Paths of the API and the pages, ids checked. */
export const paths = {
  desktops: () => '/api/desktops',
  desktop: (id) => `/api/desktops/${checkId('desktop', id)}`,
  checkpointOf: (id) => `/api/desktops/${checkId('desktop', id)}/checkpoint`,
  stop: (id) => `/api/desktops/${checkId('desktop', id)}/stop`,
  move: (id) => `/api/desktops/${checkId('desktop', id)}/move`,
  checkpoint: (id) => `/api/checkpoints/${checkId('checkpoint', id)}`,
  restore: (id) => `/api/checkpoints/${checkId('checkpoint', id)}/restore`,
  clone: (id) => `/api/checkpoints/${checkId('checkpoint', id)}/clone`,
  viewer: (id) => `/desktops/${checkId('desktop', id)}`,
  presenter: (id) => `/desktops/${checkId('desktop', id)}/present`,
};

export class FreezeframeClient {
  /**
   * @param options.url the server (default FREEZEFRAME_URL, else http://127.0.0.1:3000)
   * @param options.token its token, needed when it is bound to another address than loopback (default FREEZEFRAME_TOKEN)
   * @param options.fetch a fetch of your own (default the global one)
   */
  constructor(options = {}) {
    const env = typeof process === 'object' && process.env ? process.env : {};
    this.url = serverRoot(options.url ?? env.FREEZEFRAME_URL ?? 'http://127.0.0.1:3000');
    this.token = options.token ?? (env.FREEZEFRAME_TOKEN || undefined);
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** One call: the answer's JSON when its status is expected, a FreezeframeError otherwise. */
  async request(method, path, body, expected = 200) {
    const headers = { Accept: 'application/json' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await this.fetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
    } catch (error) {
      throw new FreezeframeError('unreachable', `${method} ${this.url}${path}: ${error.cause?.message ?? error.message}`, 0);
    }
    const text = await response.text();
    if (response.status !== expected) throw errorFromResponse(response.status, text);
    return JSON.parse(text);
  }

  /** Starts a desktop (apps: the presets' names; commands: argv lists); it answers once the desktop runs. */
  async start(options = {}) {
    return (await this.request('POST', paths.desktops(), options, 201)).desktop;
  }

  /** Every desktop, with its checkpoints. */
  async list() {
    return (await this.request('GET', paths.desktops())).desktops;
  }

  /** One desktop: its record, control VNC password, checkpoints (oldest first), latest criu log. */
  async get(id) {
    return this.request('GET', paths.desktop(id));
  }

  /** A checkpoint (leaveRunning: a snapshot, the desktop runs on; otherwise it is frozen until a restore). */
  async checkpoint(id, options = {}) {
    return (await this.request('POST', paths.checkpointOf(id), options, 201)).checkpoint;
  }

  /** A checkpoint's record, with the last lines of its logs. */
  async getCheckpoint(id) {
    return (await this.request('GET', paths.checkpoint(id))).checkpoint;
  }

  /** Restores a checkpoint into its desktop (stopRunning: stop it first if it runs, otherwise that is bad_state). */
  async restore(checkpointId, options = {}) {
    return this.request('POST', paths.restore(checkpointId), options);
  }

  /**
   * count (1-16) new desktops restored from the checkpoint at once. Those that failed are in `failed`; the others
   * run. When none started the call fails (criu's error).
   */
  async clone(checkpointId, options = {}) {
    return this.request('POST', paths.clone(checkpointId), options, 201);
  }

  async stop(id) {
    return (await this.request('POST', paths.stop(id))).desktop;
  }

  /**
   * Moves a running desktop to another host of the fleet (`method`: 'copy', the default,
   * 'page-server', or 'lazy': post-copy, its memory fetched from this server after the move answers); on
   * failure it runs on this server again (docs/move.md).
   */
  async move(id, host, options = {}) {
    return this.request('POST', paths.move(id), { host, ...options });
  }

  /** Removes a stopped desktop with its checkpoints, its folder and display. */
  async remove(id) {
    return this.request('DELETE', paths.desktop(id));
  }

  /** Deletes one checkpoint. */
  async deleteCheckpoint(id) {
    return this.request('DELETE', paths.checkpoint(id));
  }

  /**
   * The desktop's page (the live viewer with its controls); `presenter: true` for the stage view. With a token, the
   * URL carries it: the page trades it for a cookie and drops it from the address bar (server/auth.ts).
   */
  viewerUrl(id, options = {}) {
    const url = new URL(this.url + (options.presenter ? paths.presenter(id) : paths.viewer(id)));
    if (this.token) url.searchParams.set('token', this.token);
    return url.href;
  }
}

export function createClient(options) {
  return new FreezeframeClient(options);
}
