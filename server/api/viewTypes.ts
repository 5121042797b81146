// The shapes the pages and the HTTP API show (types only, so client components can import them).
import type { CheckpointRecord, DesktopRecord } from '../desktops/records';

export type { CheckpointRecord, DesktopRecord, ErrorInfo } from '../desktops/records';
export type { DesktopEvent } from '../desktops/events';

export interface LogTail {
  operation: 'dump' | 'restore';
  checkpoint: string;
  path: string;
  lines: string[];
}

/** A desktop with its checkpoints (oldest first), as the CLI's `list` shows it. */
export interface DesktopSummary extends DesktopRecord {
  checkpoints: CheckpointRecord[];
}

export interface DesktopDetail {
  desktop: DesktopRecord;
  /** Oldest first. */
  checkpoints: CheckpointRecord[];
  latestLog?: LogTail;
  /** The server's clock when this was read: the page measures "frozen for" against it, not the viewer's clock. */
  serverTime: string;
  storage: StorageView;
}

/** Disk space of the checkpoints (all desktops), and what is left on the filesystem they live on. */
export interface StorageView {
  /** Sum of imageBytes over complete checkpoints. */
  checkpointBytes: number;
  checkpoints: number;
  /** statfs of the state folder: bytes available to this user, and the filesystem's size. */
  freeBytes: number;
  totalBytes: number;
  stateDir: string;
}

export interface CheckpointDetail extends CheckpointRecord {
  dumpLog?: LogTail;
  /** One per restore, in order; null where the log is gone. */
  restoreLogs: (LogTail | null)[];
}
