// Types of freezeframe/client (index.js). Written out here, not imported from the server's sources, so that a test
// suite type-checks it with its own settings; test/client.test.ts checks they agree with lib/.

/** lib/errorCodes.ts's codes, and the client's own: 401 and 403 answered as text by the auth check. */
export type ErrorCode =
  | 'not_found'
  | 'busy'
  | 'bad_state'
  | 'invalid'
  | 'criu'
  | 'launch'
  | 'display_in_use'
  | 'images_missing'
  | 'gone'
  | 'untrusted'
  | 'untrusted_images'
  | 'internal'
  | 'interrupted'
  | 'too_large'
  | 'unsupported_media_type'
  | 'forbidden_host'
  | 'cross_origin'
  | 'unreachable'
  | 'unauthorized'
  | 'forbidden';

export type DesktopState = 'starting' | 'running' | 'checkpointing' | 'checkpointed' | 'restoring' | 'stopping' | 'stopped' | 'failed';

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  exitCode?: number;
  errors?: string[];
  logPath?: string;
  hint?: string;
}

/** A desktop as the API shows it (lists, clones: no VNC password; a started desktop's own answer has them). */
export interface Desktop {
  id: string;
  kind?: 'host' | 'contained';
  /** A clone: the checkpoint whose home-base its home overlays. */
  homeBase?: string;
  display: number;
  vncPort: number;
  geometry: string;
  apps: string[];
  state: DesktopState;
  createdAt: string;
  updatedAt: string;
  lastError?: ErrorInfo;
  lastCheckpoint?: string;
  vncPassword?: string;
  vncViewPassword?: string;
}

export interface Checkpoint {
  id: string;
  desktop: string;
  createdAt: string;
  state: 'dumping' | 'complete' | 'failed';
  leaveRunning: boolean;
  dumpMs?: number;
  imageBytes?: number;
  homeBase?: boolean;
  importedAt?: string;
  pinned?: boolean;
  error?: ErrorInfo;
  restores: { at: string; ms: number; ok: boolean; error?: ErrorInfo }[];
}

export interface DesktopSummary extends Desktop {
  checkpoints: Checkpoint[];
}

export interface DesktopDetail {
  desktop: Desktop;
  vncPassword: string;
  checkpoints: Checkpoint[];
  serverTime: string;
}

export interface StartOptions {
  /** "1024x768" */
  geometry?: string;
  /** Preset names: xterm, xclock, firefox, writer, calculator, mousepad, xpdf, chromium, mpv. */
  apps?: string[];
  /** Programs of your own, each an argv (no shell). */
  commands?: string[][];
}

export interface Restored {
  desktop: Desktop;
  checkpoint: Checkpoint;
  restoreMs: number;
}

export interface Cloned {
  checkpoint: Checkpoint;
  desktops: Desktop[];
  failed: { desktop: string; error: ErrorInfo }[];
  ms: number;
}

export interface Moved {
  desktop: string;
  from: string;
  host: string;
  method: 'copy' | 'page-server' | 'lazy';
  checkpoint: string;
  frozenMs: number;
  dumpMs: number;
  restoreMs: number;
  bytesSent: number;
  phases: { checkpointMs: number; exportMs: number; targetMs: number; target?: { importMs: number; restoreMs: number } };
  /** method lazy: the source's dump, still serving the memory when the move answered (docs/move.md). */
  lazy?: { dumpPid: number; address: string; port: number };
}

export interface Removed {
  desktop: string;
  checkpoints: string[];
  bytesFreed: number;
  display: number;
}

export interface ClientOptions {
  /** Default FREEZEFRAME_URL, else http://127.0.0.1:3000. */
  url?: string;
  /** Needed when the server is bound to another address than loopback. Default FREEZEFRAME_TOKEN. */
  token?: string;
  fetch?: typeof globalThis.fetch;
}

export declare class FreezeframeError extends Error {
  constructor(code: ErrorCode, message: string, status: number, details?: Partial<ErrorInfo> & { fields?: Record<string, string[]> });
  readonly name: 'FreezeframeError';
  readonly code: ErrorCode;
  /** The HTTP status; 0 when no answer came (unreachable) or the call was refused before any request (invalid). */
  readonly status: number;
  readonly exitCode?: number;
  readonly errors?: string[];
  readonly logPath?: string;
  readonly hint?: string;
  readonly fields?: Record<string, string[]>;
}

export declare function errorFromResponse(status: number, text: string): FreezeframeError;
export declare function serverRoot(url: string): string;

export declare const paths: {
  desktops(): string;
  desktop(id: string): string;
  checkpointOf(id: string): string;
  stop(id: string): string;
  checkpoint(id: string): string;
  restore(id: string): string;
  clone(id: string): string;
  viewer(id: string): string;
  presenter(id: string): string;
};

export declare class FreezeframeClient {
  constructor(options?: ClientOptions);
  readonly url: string;
  readonly token: string | undefined;
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, expected?: number): Promise<T>;
  start(options?: StartOptions): Promise<Desktop & { vncPassword: string }>;
  list(): Promise<DesktopSummary[]>;
  get(id: string): Promise<DesktopDetail>;
  checkpoint(id: string, options?: { leaveRunning?: boolean }): Promise<Checkpoint>;
  getCheckpoint(id: string): Promise<Checkpoint>;
  restore(checkpointId: string, options?: { stopRunning?: boolean }): Promise<Restored>;
  clone(checkpointId: string, options?: { count?: number }): Promise<Cloned>;
  stop(id: string): Promise<Desktop>;
  move(id: string, host: string, options?: { method?: 'copy' | 'page-server' | 'lazy' }): Promise<Moved>;
  remove(id: string): Promise<Removed>;
  deleteCheckpoint(id: string): Promise<{ checkpoint: string; bytesFreed: number }>;
  viewerUrl(id: string, options?: { presenter?: boolean }): string;
}

export declare function createClient(options?: ClientOptions): FreezeframeClient;
