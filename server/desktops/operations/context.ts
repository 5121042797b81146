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

export interface OperationContext {
  config: Pick<Config, 'criuPath' | 'criuLogLevel' | 'keyDir' | 'sharePages' | 'contained' | 'rootDir' | 'lazy' | 'lazyMinBytes'>;
  paths: Paths;
  store: RecordStore;
  displays: DisplayClaims;
  locks: OperationLocks;
  deps: Collaborators;
  /** The user the desktops' programs run as (known once the registry is initialised). */
  user(): DesktopUser;
  emit(event: DesktopEvent): void;
}

export function desktopFiles(paths: Paths, id: string) {
  return { dir: paths.desktopDir(id), home: paths.desktopHome(id), passwordFile: paths.desktopPasswordFile(id) };
}
