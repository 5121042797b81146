// A move's memory sent straight to the target (method 'page-server'): the target runs `criu page-server` for the one
// dump, the source's `criu dump --page-server --address --port` writes every other image locally and the pages there;
// the rest of the images follow in the signed archive, and the target puts the two together before its import.
import 'server-only';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { FreezeframeError } from '../errors';

/** What the page server writes: the pagemaps and the pages, nothing else (anything else there is refused). */
export const pageImage = /^(pagemap(-shmem)?|pages)-\d+\.img$/;

interface Running {
  dir: string;
  child: ChildProcess;
  /** Resolves with criu's exit code once the dump has sent everything (or the page server gave up). */
  exited: Promise<number | null>;
}

const key = Symbol.for('freezeframe.pageServers');
// Shared between the route handlers of Next's bundle (the handle survives one route's module copy).
const running: Map<string, Running> = ((globalThis as { [key]?: Map<string, Running> })[key] ??= new Map());

/** A port free on address now (the page server binds it at once; a race only fails the move, cleanly). */
async function freePort(address: string): Promise<number> {
  const server = net.createServer();
  server.listen(0, address);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts `criu page-server` on address for one dump, in a folder of its own under transfers; the pages it receives
 * are unsigned (criu's protocol has no authentication): it listens only on the fleet's address, for one
 * connection, and the images that say where the pages go (pagemaps are the page server's too) restore
 * only as the desktop's unprivileged user, after the signed images' trust check.
 */
export async function startPageServer({ criuPath, stateDir, address }: { criuPath: string; stateDir: string; address: string }): Promise<{ transfer: string; address: string; port: number }> {
  const transfer = randomBytes(8).toString('hex');
  const dir = path.join(stateDir, 'transfers', `pages-${transfer}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const port = await freePort(address);
  const child = spawn(criuPath, ['page-server', '--images-dir', dir, '--address', address, '--port', String(port), '--log-file', path.join(dir, 'page-server.log'), '-v3'], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const entry: Running = { dir, child, exited };
  running.set(transfer, entry);
  // Never left waiting: a source that never dumps lets it go after a minute.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then((code) => {
    clearTimeout(timer);
    // A dump that failed (the source tries again with a new page server, or gives up): nothing will take these.
    if (code !== 0 && running.get(transfer) === entry) {
      running.delete(transfer);
      void rm(dir, { recursive: true, force: true });
    }
  });
  // Listening once the port takes a connection attempt? No: a probe would be its one dump. The bind comes within
  // criu's start (tens of ms); the source's dump connects after its freeze, which takes longer.
  return { transfer, address, port };
}

/** Waits for the page server of transfer to finish, then moves its pages into images; the folder goes either way. */
export async function takePages(transfer: string, images: string): Promise<void> {
  const entry = running.get(transfer);
  if (!/^[0-9a-f]{16}$/.test(transfer) || !entry) throw new FreezeframeError('invalid', `no page server ${transfer} on this host`);
  running.delete(transfer);
  {
    const code = await Promise.race([entry.exited, new Promise<'late'>((resolve) => setTimeout(resolve, 30_000, 'late'))]);
    if (code !== 0) {
      entry.child.kill('SIGKILL');
      throw new FreezeframeError('criu', `the page server did not receive the dump's pages (${code === 'late' ? 'still waiting after 30 s' : `exit ${code}`}); see ${path.join(entry.dir, 'page-server.log')}`);
    }
    for (const name of await readdir(entry.dir)) {
      if (name === 'page-server.log') continue;
      if (!pageImage.test(name)) throw new FreezeframeError('untrusted', `the page server wrote ${name}, which no page server writes`);
      await rename(path.join(entry.dir, name), path.join(images, name));
    }
  }
  // On failure the folder stays, with the page server's log the error names.
  await rm(entry.dir, { recursive: true, force: true });
}

/** Stops a page server a move gave up on. */
export function dropPageServer(transfer: string): void {
  const entry = running.get(transfer);
  if (!entry) return;
  running.delete(transfer);
  entry.child.kill('SIGKILL');
  void entry.exited.then(() => rm(entry.dir, { recursive: true, force: true }));
}
