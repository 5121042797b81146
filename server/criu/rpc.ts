// CRIU's RPC messages (images/rpc.proto of CRIU 4.2), encoded by hand: a criu_req for `criu swrk` from our
// CriuOptions, and the fields of its criu_resp we read. Pure: no criu, no sockets (test/criuRpc.test.ts).
import type { CriuOptions } from './options';
import { encodeVarint, fieldKey } from './varint';
import { decodeProto } from './images';

/** criu_req_type */
export const reqType = { dump: 1, restore: 2 } as const;
/** criu_network_lock_method */
const networkLocks = { iptables: 1, nftables: 2, skip: 3 } as const;

/** criu_opts field numbers, under our CriuOptions names (rpc.proto names in the comments). */
const field = {
  imagesDirFd: 1, // images_dir_fd (required; -1: use images_dir)
  pid: 2, // pid: the tree to dump
  leaveRunning: 3,
  tcpEstablished: 5,
  fileLocks: 8,
  logLevel: 9,
  root: 13,
  ghostLimit: 35, // ghost_limit
  inheritFd: 27, // inherit_fd { key = 1, fd = 2 } (swrk only): fds of the worker's own
  external: 37,
  skipInFlight: 46, // tcp_skip_in_flight
  lazyPages: 48, // lazy_pages
  configFile: 51, // config_file: criu's own option file, read after the RPC options (what RPC cannot say)
  tcpClose: 52,
  networkLock: 64,
  imagesDir: 68, // images_dir
} as const;

// int32 -1 is sent as a 64-bit two's complement (10 bytes), as protobuf does (varint.ts).
const int = (n: number, v: number | boolean) => [...fieldKey(n, 0), ...encodeVarint(typeof v === 'boolean' ? Number(v) : v)];
function bytes(n: number, v: Uint8Array | number[]): number[] {
  return [...fieldKey(n, 2), ...encodeVarint(v.length), ...v];
}
const str = (n: number, v: string) => bytes(n, Buffer.from(v, 'utf8'));

/**
 * Every option this encoder says (as a criu_opts field, in the option file, or by the request itself); any other
 * one set (feature is for `criu check`; one added to CriuOptions later) sends the operation to the command line
 * rather than dropping it. inheritFd names fds the worker was given at its spawn (swrk.ts).
 */
const said = new Set<keyof CriuOptions>([
  'imagesDir', 'logFile', 'logLevel', 'tree', 'tcpEstablished', 'tcpClose', 'fileLocks', 'leaveRunning', 'skipInFlight',
  'restoreDetached', 'root', 'pidfile', 'networkLock', 'external', 'ghostLimit', 'inheritFd',
  'lazyPages', 'workDir', 'refuseFdsInFlight',
]);

/**
 * `fd[N]:KEY` (N counted as on the command line: runCriu's inheritFds at 3, 4, ...) as inherit_fd entries of a swrk
 * worker, whose fd 3 is its socket: the same fds land one higher there (swrk.ts).
 */
export function inheritFdEntries(inheritFd: string[]): { key: string; fd: number }[] {
  return inheritFd.map((spec) => {
    const m = /^fd\[(\d+)\]:(.+)$/.exec(spec);
    if (!m) throw new TypeError(`inheritFd ${spec}: not fd[N]:KEY`);
    return { key: m[2], fd: Number(m[1]) + 1 };
  });
}

/** Whether these options can be said over RPC. */
export function rpcCanSay(options: CriuOptions, logPath: string): boolean {
  const set = (Object.keys(options) as (keyof CriuOptions)[]).filter((k) => options[k] !== undefined && options[k] !== false && !(Array.isArray(options[k]) && !(options[k] as unknown[]).length));
  // The paths go into an option file, quoted: a quote or a line break in one cannot be said there.
  return set.every((k) => said.has(k)) && ![logPath, options.pidfile ?? '', options.workDir ?? ''].some((p) => /["\n]/.test(p));
}

/**
 * What criu_opts cannot say, as lines of a criu option file (CRIU's long option names, without the dashes): the
 * log anywhere but in the images folder (log_file takes a bare name, or an fd of the requesting process, which a
 * crash of that process takes away before criu opens it), and the pidfile.
 */
export function rpcConfigLines(options: CriuOptions, logPath: string): string[] {
  return [
    `log-file "${logPath}"`,
    ...(options.pidfile ? [`pidfile "${options.pidfile}"`] : []),
    // work_dir_fd would be an fd of the requesting process: a path in the option file, as the log's.
    ...(options.workDir ? [`work-dir "${options.workDir}"`] : []),
    // Our patch's option (scripts/criu-patches/0005): no criu_opts field, the option file says it.
    ...(options.refuseFdsInFlight ? ['refuse-fds-in-flight'] : []),
  ];
}

/** criu_req { type, opts } for a dump or restore with these options. */
export function encodeRequest(op: 'dump' | 'restore', options: CriuOptions, configFile: string): Buffer {
  if (!rpcCanSay(options, '/')) throw new TypeError('these criu options need the command line (rpcCanSay)');
  if (!options.imagesDir) throw new TypeError('a dump or restore over RPC needs imagesDir');
  const o: number[] = [...int(field.imagesDirFd, -1), ...str(field.imagesDir, options.imagesDir)];
  if (op === 'dump') {
    if (!options.tree) throw new TypeError('a dump over RPC needs tree (else criu dumps the requesting process)');
    o.push(...int(field.pid, options.tree));
  }
  const flags = ['leaveRunning', 'tcpEstablished', 'fileLocks', 'skipInFlight', 'tcpClose', 'lazyPages'] as const;
  for (const name of flags) if (options[name]) o.push(...int(field[name], true));
  if (options.logLevel !== undefined) o.push(...int(field.logLevel, options.logLevel));
  if (options.root) o.push(...str(field.root, options.root));
  for (const e of options.external ?? []) o.push(...str(field.external, e));
  if (options.ghostLimit !== undefined) o.push(...int(field.ghostLimit, options.ghostLimit));
  if (options.networkLock) o.push(...int(field.networkLock, networkLocks[options.networkLock]));
  for (const { key: k, fd } of inheritFdEntries(options.inheritFd ?? [])) o.push(...bytes(field.inheritFd, [...str(1, k), ...int(2, fd)]));
  o.push(...str(field.configFile, configFile));
  // restoreDetached has no field: a restore over RPC is always detached (cr-service.c, restore_using_req).
  return Buffer.from([...int(1, reqType[op]), ...bytes(2, o)]);
}

export interface RpcResponse {
  success: boolean;
  /** criu_restore_resp.pid: the restored tree's root. */
  pid?: number;
  /** cr_errno and cr_errmsg: criu's own word on a failure. */
  errno?: number;
  errmsg?: string;
}

export function decodeResponse(buf: Uint8Array): RpcResponse {
  const f = decodeProto(buf);
  const num = (v: bigint | Uint8Array | undefined) => (typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : undefined);
  const restore = f.get(4)?.[0];
  const errmsg = f.get(9)?.[0];
  return {
    success: f.get(2)?.[0] === 1n,
    pid: restore instanceof Uint8Array ? num(decodeProto(restore).get(1)?.[0]) : undefined,
    errno: num(f.get(7)?.[0]),
    errmsg: errmsg instanceof Uint8Array ? Buffer.from(errmsg).toString('utf8') : undefined,
  };
}
