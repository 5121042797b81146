// A post-copy move's source side (method 'lazy'): the dump serves the lazy pages (criu/lazyDump.ts) from this host's
// fleet address until the target's `criu lazy-pages` has them all; this file brings the desktop back here when the
// target failed before it fetched anything, and tidies up once the dump has exited.
import 'server-only';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import net from 'node:net';
import { FreezeframeError } from '../errors';
import { toErrorInfo } from '../errorInfo';
import type { Desktops } from '../desktops/registry';
import type { Serving } from '../desktops/operations/checkpoint';
import type { Peers } from './peers';
import { fetchLazyPages } from '../criu/lazyFetch';

/** criu's pipe for one page request: PIPE_MAX_SIZE pages (page-pipe.h: 8 pages of 40-byte pipe buffers, 819). */
const teePipeBytes = 819 * 4096;

/**
 * Whether this host's criu can serve lazy pages: it sizes the pipe it answers each request through to 3.2 MB
 * (page-pipe.c pipe_read_dest_init), which needs CAP_SYS_RESOURCE above fs.pipe-max-size (1 MB by default), and
 * ignores the failure: the pipe stays 64 KB and the first background request past it fails the session ("tee:
 * 65536"), measured here (a root without CAP_SYS_RESOURCE). Checked before anything is frozen.
 */
export async function checkLazyServing(): Promise<void> {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(await readFile('/proc/self/status', 'utf8').catch(() => ''))?.[1];
  if (capEff && (BigInt(`0x${capEff}`) >> 24n) & 1n) return; // CAP_SYS_RESOURCE
  const max = Number((await readFile('/proc/sys/fs/pipe-max-size', 'utf8').catch(() => '0')).trim());
  if (max >= teePipeBytes) return;
  throw new FreezeframeError('bad_state', `this host cannot serve a lazy move's pages: criu needs a ${teePipeBytes}-byte pipe for each page request, above fs.pipe-max-size (${max}) without CAP_SYS_RESOURCE, which this server does not have; set fs.pipe-max-size to 4194304 (sysctl) or use method copy or page-server`);
}

/** This host's fleet address and a port free on it now (criu binds it at once; a race only fails the dump). */
export async function lazyServerAddress(peers: Peers): Promise<{ address: string; port: number }> {
  const self = peers.get(peers.self);
  if (!self) throw new FreezeframeError('bad_state', `host ${peers.self} is not in its own fleet directory: no address for the lazy pages' server`);
  const address = new URL(self.url).hostname.replace(/^\[(.*)\]$/, '$1');
  const server = net.createServer();
  server.listen(0, address);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return { address, port };
}

/**
 * A process's start time (/proc/PID/stat field 22), or undefined once it is gone, a zombie, or exiting (flag
 * PF_EXITING): a killed pid namespace's init stays in its exit until every task of the namespace is reaped, which
 * the frozen tree's tracer (the serving dump) does only when it exits; its files are closed by then.
 */
async function liveStart(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const exiting = (Number(fields[6]) & 0x4) !== 0;
  return fields.length > 20 && fields[0] !== 'Z' && fields[0] !== 'X' && !exiting ? fields[19] : undefined;
}

/** The frozen tree's processes as they are now (pid and start time), to end exactly those later. */
export async function identifyTree(serving: Serving): Promise<Map<number, string>> {
  const tree = new Map<number, string>();
  for (const pid of serving.treePids) {
    const start = await liveStart(pid);
    if (start) tree.set(pid, start);
  }
  return tree;
}

/** SIGKILLs what is left of the tree (the same processes only), and waits until none runs (a zombie holds nothing). */
async function endTree(tree: Map<number, string>): Promise<void> {
  for (const [pid, start] of tree) if ((await liveStart(pid)) === start) process.kill(pid, 'SIGKILL');
  const end = performance.now() + 5_000;
  for (const [pid, start] of tree) {
    while ((await liveStart(pid)) === start) {
      if (performance.now() > end) throw new FreezeframeError('internal', `process ${pid} of the frozen tree did not end`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * The target failed: the desktop back here, if nothing was fetched yet. The frozen tree cannot simply go on (a
 * failed session resumes it, but leaves its connections in TCP repair mode and the namespace locked: cr_dump_finish
 * unlocks only before it serves), and a lazy restore beside the serving dump cannot repair the viewers' connections
 * (the dump keeps their sockets open in repair mode until it exits: criu/lazyFetch.ts). So every lazy page is
 * fetched from the dump into its own images, which ends it as served (it kills the tree and exits), and the
 * checkpoint is restored like any Restore of the one it froze at: the viewers' connections come back. Once a client
 * has connected (the target's daemon), the one session is spent, and the memory with it.
 */
export async function comeBackLazily(desktops: Desktops, serving: Serving, id: string, checkpointId: string, server: { address: string; port: number }, imagesDir: string): Promise<string> {
  const log = await readFile(serving.dump.logPath, 'utf8').catch(() => '');
  const ended = await Promise.race([serving.dump.done.then(() => true), new Promise<false>((r) => setImmediate(r, false))]);
  if (ended || /Accepted connection from/.test(log)) {
    const end = ended ? await serving.dump.done : undefined;
    return `and its memory is lost: the target had started fetching it (criu dump ${end ? `exited ${end.exitCode ?? end.signal}` : 'served its one session'}; log: ${serving.dump.logPath})`;
  }
  try {
    await fetchLazyPages(imagesDir, server);
    const end = await serving.dump.done;
    if (!end.served) throw new FreezeframeError('criu', `criu dump did not end as served: ${end.errors[0] ?? `exit ${end.exitCode ?? end.signal}`}`);
    await desktops.markMoving(id, checkpointId, undefined);
    await desktops.restore(checkpointId);
    return 'it runs on this host again';
  } catch (error) {
    return `and it could not be restored here (${toErrorInfo(error).message}): checkpoint ${checkpointId} is kept (log: ${serving.dump.logPath})`;
  }
}

/** How long a dump may serve after the move answered: the target's daemon ends itself after 120 s (lazyPages.ts). */
const serveMaxMs = 10 * 60_000;

/**
 * The move answered: the desktop runs on the target. Once the dump has exited (every page served, or the target's
 * daemon gone), whatever is left of the frozen tree is ended (it runs there), the overlay home freed, and the move's
 * checkpoint removed. Resolves with how the dump ended.
 */
export async function afterServed(desktops: Desktops, serving: Serving, id: string, checkpointId: string): Promise<{ served: boolean; ms: number; exitCode?: number; errors: string[] }> {
  const tree = await identifyTree(serving);
  const timer = setTimeout(() => serving.dump.kill(), serveMaxMs);
  const end = await serving.dump.done;
  clearTimeout(timer);
  // Served: criu killed the tree. A failed session resumed it: it must not run here too.
  await endTree(tree).catch(() => {});
  await desktops.releaseMovedRoom(id).catch(() => {});
  await desktops.deleteCheckpoint(checkpointId).catch(() => {});
  if (!end.served) console.error(`the lazy pages of checkpoint ${checkpointId} (desktop ${id}) were not all served: ${end.errors[0] ?? `criu dump exited ${end.exitCode ?? end.signal}`}`);
  return { served: end.served, ms: end.ms, exitCode: end.exitCode, errors: end.errors };
}
