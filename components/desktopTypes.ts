// Types the desktop components share (types only: the server's records as pages see them, without secrets).
export type { CheckpointView, DesktopDetail, DesktopView, LogTail } from '@/lib/viewTypes';
import type { DesktopView } from '@/lib/viewTypes';

export type OperationView = NonNullable<DesktopView['lastOperation']>;
