// The shapes the pages and the HTTP API show (types only, so client components can import them).
import type { CheckpointRecord, DesktopRecord } from '../server/desktops/records';

import type { DesktopEvent } from '../server/desktops/events';

export type { CheckpointRecord, DesktopRecord, ErrorInfo } from '../server/desktops/records';
export type { DesktopEvent } from '../server/desktops/events';

/** The VNC passwords: in a desktop's own detail (control) and its audience's view (view-only), nowhere else. */
type Secret = 'vncPassword' | 'vncViewPassword';

/** A desktop as lists, events and pages see it: everything but its VNC passwords. */
export type DesktopView = Omit<DesktopRecord, Secret>;

/** A checkpoint as lists, events and pages see it: the desktop it was taken of without that desktop's passwords. */
export type CheckpointView = Omit<CheckpointRecord, 'desktopSpec'> & {
  desktopSpec?: Omit<NonNullable<CheckpointRecord['desktopSpec']>, Secret>;
};

/** An event as it is broadcast (Server-Sent Events): no secret in it. */
export type DesktopEventView = Omit<DesktopEvent, 'desktop' | 'checkpoint'> & { desktop: DesktopView; checkpoint?: CheckpointView };

export interface LogTail {
  operation: 'dump' | 'restore';
  checkpoint: string;
  path: string;
  lines: string[];
}

/** A desktop with its checkpoints (oldest first), as the CLI's `list` shows it. */
export interface DesktopSummary extends DesktopView {
  checkpoints: CheckpointView[];
}

export interface DesktopDetail {
  desktop: DesktopView;
  /** The desktop's control VNC password: what its own page's viewer authenticates with. */
  vncPassword: string;
  /** Oldest first. */
  checkpoints: CheckpointView[];
  latestLog?: LogTail;
  /** The server's clock when this was read: the page measures "frozen for" against it, not the viewer's clock. */
  serverTime: string;
  storage: StorageView;
  /** In a fleet: the host that runs the desktop (this one, or the owner the detail was read from). */
  host?: string;
}

/** Disk space of the checkpoints (all desktops), and what is left on the filesystem they live on. */
export interface StorageView {
  /** Sum over complete checkpoints of what each takes on disk (storedBytes; imageBytes before it is known). */
  checkpointBytes: number;
  checkpoints: number;
  /** statfs of the state folder: bytes available to this user, and the filesystem's size. */
  freeBytes: number;
  totalBytes: number;
  stateDir: string;
}

export interface CheckpointDetail extends CheckpointView {
  dumpLog?: LogTail;
  /** One per restore, in order; null where the log is gone. */
  restoreLogs: (LogTail | null)[];
}
