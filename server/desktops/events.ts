// What happens to a desktop, as the engine tells the bridge, the event stream and the pages.
import type { CheckpointRecord, DesktopRecord, ErrorInfo } from './records';

export type DesktopEventType =
  | 'started'
  | 'checkpointing'
  | 'checkpointed'
  | 'restoring'
  | 'restored'
  | 'stopping'
  | 'stopped'
  | 'failed'
  /** A desktop's retention policy or a checkpoint's pin changed (checkpoint: the one whose record changed). */
  | 'changed'
  /** Checkpoints were removed (by the retention policy or a delete): removed, bytesFreed. */
  | 'pruned'
  /** A stopped desktop was removed with its checkpoints: removed, bytesFreed. */
  | 'removed'
  /** The desktop now runs on another host (record.movedTo): its viewers reconnect, to be served from there. */
  | 'moved';

export interface DesktopEvent {
  type: DesktopEventType;
  desktop: DesktopRecord;
  checkpoint?: CheckpointRecord;
  /** How long the operation took (checkpointed: the dump; restored: the restore). */
  ms?: number;
  /**
   * restored: whether the viewers' TCP connections were restored with the desktop ('kept': the same connection
   * moves again) or restored closed ('closed': the viewers must connect anew).
   */
  connections?: 'kept' | 'closed';
  /** failed: which operation, and why. */
  operation?: 'start' | 'dump' | 'restore';
  error?: ErrorInfo;
  /** pruned, removed: the checkpoints that went, and the bytes that freed. */
  removed?: string[];
  bytesFreed?: number;
}
