// Types the desktop components share (types only: they come from the server's records).
export type { CheckpointRecord, DesktopDetail, DesktopRecord, LogTail } from '@/server/api/viewTypes';
import type { DesktopRecord } from '@/server/api/viewTypes';

export type OperationView = NonNullable<DesktopRecord['lastOperation']>;
