// What every operation on a desktop is given: the configuration, the records, the display claims, the locks, the
// collaborators (criu, the launcher, the process table, the clock) and where to say what happened.
import type { Config } from '../../config';
import type { Collaborators } from '../collaborators';
import type { DisplayClaims } from '../displays';
import type { DesktopEvent } from '../events';
import type { OperationLocks } from '../lock';
import type { Paths } from '../records';
import type { RecordStore } from '../store';
import type { DesktopUser } from '../desktopUser';
import type { DesktopRecord } from '../records';
import type { OwnIds, UidClaims } from '../uids';

export interface OperationContext {
  config: Pick<Config, 'criuPath' | 'criuLogLevel' | 'keyDir' | 'sharePages' | 'contained' | 'rootDir' | 'lazy' | 'lazyMinBytes' | 'refuseFdsInFlight'>;
  paths: Paths;
  store: RecordStore;
  displays: DisplayClaims;
  locks: OperationLocks;
  /** Which desktop runs as which uid of the reserved range (uids.ts). */
  uids: UidClaims;
  deps: Collaborators;
  /** The user the desktops' programs run as (known once the registry is initialised). */
  user(): DesktopUser;
  emit(event: DesktopEvent): void;
  /**
   * Thumbnails being written after their checkpoint's reply, by checkpoint id (whether one was made): a read of a
   * thumbnail in that moment waits for it rather than finding none (Desktops.thumbnail).
   */
  thumbnails: Map<string, Promise<boolean>>;
  /**
   * A restore's tree runs again (criu said so), before its records are written: the bridge opens its freeze gate on
   * this (the same 'restored' event, early), the rest of the world learns from emit's 'restored' once the records are
   * on disk. Optional: an engine without a bridge needs none.
   */
  resumed?(event: DesktopEvent): void;
}

export function desktopFiles(paths: Paths, id: string) {
  return { dir: paths.desktopDir(id), home: paths.desktopHome(id), passwordFile: paths.desktopPasswordFile(id) };
}

/**
 * The ids a desktop's processes run as, and so the only ones its checkpoints may hold (the trust check): its own
 * uid while it holds that uid's claim here, else this installation's desktop user's. Never just what the record
 * says: an imported record names whatever ids its archive says.
 */
export async function idsOf(ctx: OperationContext, record: Pick<DesktopRecord, 'id' | 'uid' | 'gid' | 'ownUser'>): Promise<OwnIds> {
  if (record.ownUser && record.gid === record.uid && (await ctx.uids.holds(record.uid, record.id))) return { uid: record.uid!, gid: record.gid! };
  const { uid, gid } = ctx.user();
  return { uid, gid };
}
