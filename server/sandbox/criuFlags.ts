// The criu options that make a self-contained desktop's images independent of host paths and namespaces.
import type { CriuOptions } from '../criu/options';
import { externalKeys, inside } from './layout';

/** criu's "every mount shared with criu's own namespace is external" (the same as --ext-mount-map auto). */
const hostMountsExternal = 'mnt[]';

/**
 * At dump: the kept network namespace and the two bound folders are named by key, not dumped. criu locks the
 * whole namespace while it dumps (one rule set inside it, not one per connection), which the restore removes.
 */
export function containedDumpOptions(
  netnsInode: number,
  { ownUser = false }: { ownUser?: boolean } = {},
): Pick<CriuOptions, 'external' | 'tcpEstablished' | 'networkLock'> {
  return {
    tcpEstablished: true,
    // Lock and unlock inside the namespace: nftables 1.4 / 14-16 ms, iptables 3.5-3.9 / 50-63 ms (two
    // iptables-restore runs each way), in three runs (xclock, -v4; docs/self-contained.md). The same at restore.
    networkLock: 'nftables',
    external: [
      `net[${netnsInode}]:${externalKeys.net}`,
      `mnt[${inside.home}]:${externalKeys.home}`,
      `mnt[${inside.run}]:${externalKeys.run}`,
      // Not external, a bound file is dumped as a bind of its host path: the images would name it.
      ...(ownUser ? [`mnt[/etc/passwd]:${externalKeys.passwd}`, `mnt[/etc/group]:${externalKeys.group}`] : []),
      // Every other mount the tree shares with the host (/, /dev, /sys, /dev/shm, /run/...) is named by its path,
      // not dumped: criu would tar each host tmpfs's content into the images (the host's /dev/shm, criu's own
      // run folder). Restore 71 vs 97 ms, dump 104 vs 111 ms (xclock, -v3; docs/self-contained.md).
      hostMountsExternal,
    ],
  };
}

/**
 * At restore: the namespace comes from an fd criu is given (runCriu's inheritFds: [fd of /run/netns/NAME] lands
 * at fd 3), the folders from this desktop's (or this clone's) host paths.
 * keepConnections: back into the namespace it was dumped from, its viewers' connections repaired; a clone (a
 * fresh namespace) gets them closed, and no network lock: there is no rule to remove in a namespace never locked
 * ("iptables-restore: line 3 failed: Bad rule" otherwise, harmless but an Error line in the log).
 */
export function containedRestoreOptions(
  host: { homeDir: string; runDir: string; passwdFile?: string; groupFile?: string },
  keepConnections: boolean,
): Pick<CriuOptions, 'external' | 'inheritFd' | 'tcpEstablished' | 'tcpClose' | 'networkLock'> {
  return {
    ...(keepConnections ? { tcpEstablished: true, networkLock: 'nftables' as const } : { tcpClose: true, networkLock: 'skip' as const }),
    inheritFd: [`fd[3]:${externalKeys.net}`],
    external: [
      hostMountsExternal, // bound again from the restoring host's same paths
      `mnt[${externalKeys.home}]:${host.homeDir}`,
      `mnt[${externalKeys.run}]:${host.runDir}`,
      ...(host.passwdFile ? [`mnt[${externalKeys.passwd}]:${host.passwdFile}`] : []),
      ...(host.groupFile ? [`mnt[${externalKeys.group}]:${host.groupFile}`] : []),
    ],
  };
}
