// What the audience sees of a desktop: its state, its freeze, its view-only VNC password; never the control
// password, commands, paths or PIDs. Pure (the watch page imports the type, the server builds it).
import type { DesktopRecord } from '../server/desktops/records';
import type { DesktopState } from './states';

export interface WatchView {
  id: string;
  state: DesktopState;
  geometry: string;
  /** The view-only VNC password: Xvnc ignores any input from a viewer that used it. Absent on older desktops. */
  vncViewPassword?: string;
  /** While frozen: when the tree was frozen (its checkpoint's time, on the server's clock). */
  frozenSince?: string;
  /** While frozen: the checkpoint it froze at (its thumbnail stands in for the screen of a late viewer). */
  frozenAt?: string;
  /** The latest operation, for "restored in 0.12 s" / "dump took 0.15 s". */
  lastOperation?: { kind: 'start' | 'dump' | 'restore' | 'stop'; ms?: number; ok?: boolean };
  /** Why the desktop failed, in one sentence. */
  failure?: string;
  updatedAt: string;
}

/** frozenSince: the createdAt of the checkpoint the desktop froze at, when it is frozen. */
export function toWatchView(desktop: DesktopRecord, frozenSince?: string): WatchView {
  const op = desktop.lastOperation;
  return {
    id: desktop.id,
    state: desktop.state,
    geometry: desktop.geometry,
    vncViewPassword: desktop.vncViewPassword,
    frozenSince: desktop.state === 'checkpointed' ? frozenSince : undefined,
    frozenAt: desktop.state === 'checkpointed' ? desktop.lastCheckpoint : undefined,
    lastOperation: op && { kind: op.kind, ms: op.ms, ok: op.ok },
    failure: desktop.state === 'failed' ? desktop.lastError?.message : undefined,
    updatedAt: desktop.updatedAt,
  };
}
