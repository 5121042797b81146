// The `criu lazy-pages` daemon of one lazy restore: started before `criu restore --lazy-pages`, it serves the
// restored tree's page faults through userfaultfd from the images and sends every other page in the background,
// then exits by itself once no page is left to send (criu/uffd.c handle_requests). Until it has, the tree's
// memory is not all there: it must be neither dumped nor its images removed.
import 'server-only';
import { mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { CriuError } from './errors';
import { spawnStatusChild, statusReady } from './statusChild';
import { readVerdict } from './verdict';

/** How the daemon ended, judged by its exit and its log. */
export interface LazyOutcome {
  ok: boolean;
  exitCode: number | undefined;
  signal: string | undefined;
  /** CRIU's first Error lines (its log's, or what it printed). */
  errors: string[];
  /** Pages sent per process (the log's "UFFD transferred pages: (copied/total)"), summed. */
  copiedPages: number;
  totalPages: number;
  /** From the restore's start of the daemon to its exit. */
  ms: number;
}

export interface LazyDaemon {
  pid: number;
  logPath: string;
  /** Settles when the daemon has exited (never rejects). */
  done: Promise<LazyOutcome>;
  /** Ends it (a restore that failed: the daemon would otherwise wait for a restorer that never comes). */
  kill(): void;
}

/**
 * Starts `criu lazy-pages` on these images and resolves once it listens on its socket in workDir (its status fd
 * says so), rejecting with CRIU's explanation when it exits first. The socket's name is fixed
 * (`lazy-pages.socket`, relative to the work dir), so one folder serves one restore at a time.
 * Its log level: at -v4 the per-process summary of pages sent is there (a debug line, uffd.c lazy_pages_summary);
 * at -v3 only errors and warnings (no counts).
 */
export async function startLazyPages(
  criuPath: string,
  {
    imagesDir, workDir, logPath, timeoutMs = 10_000, maxMs = 120_000, maxLogBytes = 64 * 1024 * 1024, logLevel = 4, pageServer,
  }: {
    imagesDir: string; workDir: string; logPath: string; timeoutMs?: number; maxMs?: number; maxLogBytes?: number; logLevel?: 3 | 4;
    /** A post-copy move: the lazy pages come from the source's `criu dump --lazy-pages` (criu/lazyDump.ts), not the images. */
    pageServer?: { address: string; port: number };
  },
): Promise<LazyDaemon> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const started = performance.now();
  // What criu prints outside its log goes to a file, not a pipe of ours: a server that dies while pages are still
  // being sent must not take the daemon with it (SIGPIPE), or the tree would be left with holes in its memory.
  const outputPath = `${logPath}.out`;
  const args = ['lazy-pages', '--images-dir', imagesDir, '--work-dir', workDir, '--log-file', logPath, `-v${logLevel}`, '--status-fd', '3',
    ...(pageServer ? ['--page-server', '--address', pageServer.address, '--port', String(pageServer.port)] : [])];
  // Kept referenced: this process learns how the daemon ended (a CLI prints its restore at once, and exits once
  // the last page is sent, its record settled). A process that dies first leaves it working: its output is a
  // file, and its log is judged by whoever operates on the desktop next (operations/pages.ts).
  const daemon = spawnStatusChild([criuPath, ...args], outputPath);
  const { child, status, exited } = daemon;
  let stalled: string | undefined;
  const judge = async (): Promise<LazyOutcome> => {
    await exited;
    const [log, output] = await Promise.all([readLazyLog(logPath), readFile(outputPath, 'utf8').catch(() => '')]);
    const outcome = judgeLazyLog(log, daemon.exitCode, daemon.signal, output);
    if (stalled) Object.assign(outcome, { ok: false, errors: [stalled, ...outcome.errors.filter((e) => !/killed by SIGKILL/.test(e))] });
    return { ...outcome, ms: performance.now() - started };
  };
  // criu writes one byte to its status fd once the socket listens (status_ready), and closes it.
  const ready = (await statusReady(status, timeoutMs)) === 'ready';
  if (!ready) {
    child.kill('SIGKILL');
    const outcome = await judge();
    throw new CriuError({
      op: 'lazy-pages', command: [criuPath, ...args], exitCode: outcome.exitCode,
      errors: outcome.errors.length ? outcome.errors : ['criu lazy-pages did not start listening'], logPath,
    });
  }
  // A daemon that never finishes never says so: criu 4.2.1 retried one range forever after Firefox unmapped 8 GiB
  // (its -v4 log grew ~20 MB/s; scripts/criu-patches/0002-lazy-pages-big-unmap.patch). Firefox's 400 MB take
  // 0.5-1.8 s: past maxMs, or a log past maxLogBytes (~1 MB for Firefox), it is ended, and judged failed.
  const watchdog = setInterval(() => {
    const over = performance.now() - started > maxMs ? `criu lazy-pages was still sending pages after ${maxMs / 1000} s` : undefined;
    void stat(logPath).then((s) => s.size, () => 0).then((size) => {
      const why = over ?? (size > maxLogBytes ? `criu lazy-pages made no progress: its log passed ${Math.round(size / 1024 / 1024)} MB` : undefined);
      if (why && daemon.exitCode === undefined && !daemon.signal) {
        stalled = `${why} (ended; the desktop's memory is not whole)`;
        child.kill('SIGKILL');
      }
    });
  }, 1_000);
  watchdog.unref();
  const done = judge().finally(() => clearInterval(watchdog));
  return { pid: child.pid!, logPath, done, kill: () => void child.kill('SIGKILL') };
}

/**
 * Whether criu can premap every private mapping of these images, as a lazy restore by criu 4.2.1 makes it do (mem.c:
 * pages it cannot fill in the restorer are premapped, writable; a criu built with
 * scripts/criu-patches/0004-lazy-restore-in-place.patch premaps only what an eager restore does, and the engine then
 * does not ask, collaborators.ts): Chromium's address-space reservations are bigger than this
 * machine's memory, and the kernel's overcommit heuristic refuses each ("Unable to map ANON_VMA: Cannot allocate
 * memory", bench/lazy.mts); Firefox's largest, 8 GiB, fits in 23 GiB. Unknown: assumed not to fit.
 */
export function premapFits(imagesDir: string): Promise<boolean> {
  // Images never change once dumped: one answer per folder, asked first right after the dump (operations/
  // checkpoint.ts), so a restore finds it ready (Firefox's 10 mm images: ~150 ms at load 10, with the module's load).
  let answer = fits.get(imagesDir);
  if (!answer) {
    answer = computePremapFits(imagesDir);
    fits.set(imagesDir, answer);
    if (fits.size > 256) fits.delete(fits.keys().next().value!);
  }
  return answer;
}
const fits = new Map<string, Promise<boolean>>();

async function computePremapFits(imagesDir: string): Promise<boolean> {
  try {
    const [{ largestMapping }, names, meminfo, overcommit] = await Promise.all([
      import('../storage/dedup'), readdir(imagesDir), readFile('/proc/meminfo', 'utf8'), readFile('/proc/sys/vm/overcommit_memory', 'utf8'),
    ]);
    if (overcommit.trim() === '1') return true;
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
    // Heuristic (0): one mapping at most RAM + swap; strict (2): what is left of the commit limit.
    const room = overcommit.trim() === '2' ? kb('CommitLimit') - kb('Committed_AS') : kb('MemTotal') + kb('SwapTotal');
    return (await largestMapping(imagesDir, names)) < room;
  } catch {
    return false;
  }
}

/** The log, or of a big one its first and last MB (errors come early; the per-process summaries last). */
export async function readLazyLog(logPath: string): Promise<string> {
  const size = await stat(logPath).then((s) => s.size, () => -1);
  if (size < 0) return '';
  if (size <= 4 * 1024 * 1024) return readFile(logPath, 'utf8').catch(() => '');
  const handle = await open(logPath, 'r');
  try {
    const part = async (at: number) => {
      const buffer = Buffer.alloc(1024 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
      return buffer.subarray(0, bytesRead).toString('utf8');
    };
    return `${await part(0)}\n${await part(size - 1024 * 1024)}`;
  } finally {
    await handle.close();
  }
}

/** The daemon's verdict from its log: no Error line and a clean exit (exitCode undefined: unknown, as from another process). */
export function judgeLazyLog(log: string, exitCode: number | undefined, signal: string | undefined, output = ''): Omit<LazyOutcome, 'ms'> {
  const { errors } = readVerdict('restore', log);
  let copiedPages = 0;
  let totalPages = 0;
  for (const m of log.matchAll(/UFFD transferred pages: \((\d+)\/(\d+)\)/g)) {
    copiedPages += Number(m[1]);
    totalPages += Number(m[2]);
  }
  const printed = output.split('\n').filter((l) => /error/i.test(l)).slice(0, 3);
  const all = [...errors, ...printed, ...(signal ? [`criu lazy-pages was killed by ${signal}`] : [])];
  const ok = !signal && (exitCode === 0 || exitCode === undefined) && all.length === 0;
  return { ok, exitCode, signal, errors: ok ? [] : all.length ? all : [`criu lazy-pages exited ${exitCode}`], copiedPages, totalPages };
}
