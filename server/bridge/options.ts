// The bridge's tunables and close codes, in one place so tests can shrink the intervals.

/** WebSocket close codes the page can act on (4000-4999 are ours). */
export const closeCodes = {
  /** The TCP connection to Xvnc died: the page should reconnect by itself (a new RFB session). */
  vncLost: 4001,
  /** The viewer sent more than holdLimitBytes while its desktop was frozen. */
  holdLimit: 4002,
  /** The desktop was stopped: reconnecting is pointless until it is restored. */
  desktopStopped: 4004,
  /** Text frames: RFB is binary. */
  unsupportedData: 1003,
  /** This server is shutting down. */
  goingAway: 1001,
} as const;

export const closeReasons = {
  vncLost: 'vnc connection lost',
  holdLimit: 'too much viewer input while the desktop was frozen',
  desktopStopped: 'desktop stopped',
  unsupportedData: 'binary frames only',
  goingAway: 'server shutting down',
} as const;

export interface BridgeOptions {
  /** A ping this often; a viewer that has not answered the previous one by the next is terminated. */
  pingIntervalMs: number;
  /** Largest viewer->server WebSocket message: RFB client messages are tiny (ClientCutText aside). */
  maxPayloadBytes: number;
  /** Stop reading from Xvnc while more than this waits to go out to the viewer... */
  highWaterBytes: number;
  /** ...and read again once it is down to this. */
  lowWaterBytes: number;
  /** Viewer->server bytes held per connection while the desktop is frozen before the viewer is cut off. */
  holdLimitBytes: number;
  /** How long to wait for the desktop's VNC port to accept a connection. */
  connectTimeoutMs: number;
  /** After a graceful end() towards Xvnc, how long to wait for its close before destroying the socket. */
  endTimeoutMs: number;
  /** Refuse upgrades whose Origin header names another host than the Host header (cross-site WebSocket use). */
  checkOrigin: boolean;
  /** Where the bridge reports what went wrong; it never throws into its callers (nor into the engine's events). */
  log: (error: Error) => void;
}

const MiB = 1024 * 1024;

export const defaultBridgeOptions: BridgeOptions = {
  pingIntervalMs: 15_000,
  maxPayloadBytes: 1 * MiB,
  highWaterBytes: 1 * MiB,
  lowWaterBytes: 256 * 1024,
  holdLimitBytes: 4 * MiB,
  connectTimeoutMs: 5_000,
  endTimeoutMs: 5_000,
  checkOrigin: true,
  log: (error) => console.warn(`[bridge] ${error.message}`, error.cause ?? ''),
};
