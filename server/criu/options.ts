// CRIU options under CRIU's own names (camelCased) and their one mapping to command-line flags.

export type CriuOperation = 'check' | 'dump' | 'restore';

export interface CriuOptions {
  /** -D: where the images are written or read. */
  imagesDir?: string;
  /** -o: the log file (absolute, or relative to imagesDir). */
  logFile?: string;
  /** -v: 0..4. */
  logLevel?: number;
  /** -t: the root of the tree to dump. */
  tree?: number;
  tcpEstablished?: boolean;
  tcpClose?: boolean;
  fileLocks?: boolean;
  leaveRunning?: boolean;
  /** Ignore connections still in a listening socket's accept queue instead of failing the dump. */
  skipInFlight?: boolean;
  /** -d: criu exits after restore; the tree is reparented to init. */
  restoreDetached?: boolean;
  /** --root: the restored tree's root (a mount namespace is restored relative to it). */
  root?: string;
  pidfile?: string;
  /** --feature for `criu check`. */
  feature?: string;
  networkLock?: 'iptables' | 'nftables' | 'skip';
  /** --external, once each: at dump `net[INODE]:KEY`, `mnt[MOUNTPOINT]:KEY`; at restore `mnt[KEY]:HOSTPATH`. */
  external?: string[];
  /** --inherit-fd, once each: `fd[N]:KEY`, N an fd criu is given (runCriu's inheritFds land at 3, 4, ...). */
  inheritFd?: string[];
  /**
   * --ghost-limit (dump): the largest file deleted while still open that criu copies into the images (criu's
   * default: 1 MiB; a bigger one fails the dump with "Can't dump ghost file ... increase limit").
   */
  ghostLimit?: number;
  /**
   * --refuse-fds-in-flight (dump; scripts/criu-patches/0005): fail when a socket's queue holds files passed with
   * SCM_RIGHTS and not yet received, the tree left running, so the caller can dump again a moment later.
   */
  refuseFdsInFlight?: boolean;
  /**
   * --page-server with --address and --port (dump): memory pages go to `criu page-server` on another host instead of
   * the images folder (a move, server/fleet/pageServer.ts). Not said over RPC: such a dump runs on the command line.
   */
  pageServer?: boolean;
  address?: string;
  port?: number;
  /**
   * --lazy-pages (restore): the tree's anonymous memory is left for a `criu lazy-pages` daemon (lazyPages.ts) to
   * fill through userfaultfd, on fault and in the background, instead of being read before the tree resumes.
   */
  lazyPages?: boolean;
  /** --work-dir: where criu keeps what is not an image; the lazy-pages daemon's socket and the restore meet there. */
  workDir?: string;
}

type FlagSpec = { flag: string; kind: 'bool' } | { flag: string; kind: 'value' } | { flag: string; kind: 'list' };

const flags: Record<Exclude<keyof CriuOptions, 'logLevel'>, FlagSpec> = {
  imagesDir: { flag: '--images-dir', kind: 'value' },
  logFile: { flag: '--log-file', kind: 'value' },
  tree: { flag: '--tree', kind: 'value' },
  tcpEstablished: { flag: '--tcp-established', kind: 'bool' },
  tcpClose: { flag: '--tcp-close', kind: 'bool' },
  fileLocks: { flag: '--file-locks', kind: 'bool' },
  leaveRunning: { flag: '--leave-running', kind: 'bool' },
  skipInFlight: { flag: '--skip-in-flight', kind: 'bool' },
  restoreDetached: { flag: '--restore-detached', kind: 'bool' },
  root: { flag: '--root', kind: 'value' },
  pidfile: { flag: '--pidfile', kind: 'value' },
  feature: { flag: '--feature', kind: 'value' },
  networkLock: { flag: '--network-lock', kind: 'value' },
  external: { flag: '--external', kind: 'list' },
  inheritFd: { flag: '--inherit-fd', kind: 'list' },
  ghostLimit: { flag: '--ghost-limit', kind: 'value' },
  refuseFdsInFlight: { flag: '--refuse-fds-in-flight', kind: 'bool' },
  pageServer: { flag: '--page-server', kind: 'bool' },
  address: { flag: '--address', kind: 'value' },
  port: { flag: '--port', kind: 'value' },
  lazyPages: { flag: '--lazy-pages', kind: 'bool' },
  workDir: { flag: '--work-dir', kind: 'value' },
};

/** The argv after `criu` for one operation; options are emitted in a fixed order so command lines compare. */
export function criuArgs(op: CriuOperation, options: CriuOptions): string[] {
  const args: string[] = [op];
  for (const [name, spec] of Object.entries(flags) as [keyof typeof flags, FlagSpec][]) {
    const value = options[name];
    if (value === undefined || value === false) continue;
    if (spec.kind === 'list') {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
        throw new TypeError(`criu option ${name} takes a list of non-empty strings`);
      }
      for (const v of value) args.push(spec.flag, v);
    } else if (spec.kind === 'bool') {
      if (value !== true) throw new TypeError(`criu option ${name} takes true or false, not ${String(value)}`);
      args.push(spec.flag);
    } else {
      if (typeof value === 'boolean' || value === '') throw new TypeError(`criu option ${name} needs a value`);
      args.push(spec.flag, String(value));
    }
  }
  if (options.logLevel !== undefined) {
    if (!Number.isInteger(options.logLevel) || options.logLevel < 0 || options.logLevel > 4) {
      throw new TypeError(`criu option logLevel must be 0..4, not ${options.logLevel}`);
    }
    args.push(`-v${options.logLevel}`);
  }
  if (options.tcpEstablished && options.tcpClose) {
    throw new TypeError('criu options tcpEstablished and tcpClose exclude each other');
  }
  return args;
}
