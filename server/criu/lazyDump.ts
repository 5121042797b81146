// A post-copy move's dump (`criu dump --lazy-pages --address --port`): criu writes every image but the lazy pages,
// then stays alive as a page server until another host's `criu lazy-pages` has fetched them. What criu 4.2 does
// (cr-dump.c cr_dump_finish, cr_lazy_mem_dump; page-xfer.c cr_page_server; util.c run_tcp_server):
// - the images are closed and flushed, then the page server binds and listens, and only then writes its one byte
//   to --status-fd (status_ready): that byte means "the images are complete, and the server listens";
// - it accepts ONE connection (the listening socket is closed after it) and serves page requests from the page
//   pipes it filled from the tasks (they stay frozen, seized by criu, network locked, until the session ends);
// - the session ends on the client's PS_IOV_CLOSE or on EOF, both success: the tasks are then killed (the dump's
//   final state) and criu exits 0; a protocol error fails the session: the tasks are resumed (not the network lock,
//   not the sockets' repair mode: cr_dump_finish decided those before) and criu exits 1.
// - it never gives up waiting for the connection (accept without a timeout): the caller ends it.
import 'server-only';
import { readFile } from 'node:fs/promises';
import { criuArgs, type CriuOptions } from './options';
import { CriuError } from './errors';
import { readVerdict } from './verdict';
import { spawnStatusChild, statusReady } from './statusChild';

export interface LazyDumpEnd {
  exitCode: number | undefined;
  signal: string | undefined;
  /** criu's first Error lines. */
  errors: string[];
  /** Its log says a client connected (the pages were, at least partly, asked for). */
  accepted: boolean;
  /** Its log says the lazy transfer finished ("Lazy pages transfer finished successfully"). */
  served: boolean;
  /** From the start to the exit. */
  ms: number;
}

export interface LazyDump {
  pid: number;
  command: string[];
  logPath: string;
  /** From the start to the status byte: the dump proper (the tree frozen, every image but the lazy pages written). */
  durationMs: number;
  /** Settles when criu has exited (never rejects). */
  done: Promise<LazyDumpEnd>;
  kill(): void;
}

/** Starts the dump and resolves once its images are complete and its page server listens; rejects as criu says. */
export async function startLazyDump(criuPath: string, options: CriuOptions, { onSpawn, timeoutMs = 300_000 }: { onSpawn?: (pid: number) => void | Promise<void>; timeoutMs?: number } = {}): Promise<LazyDump> {
  const logPath = options.logFile!;
  const command = [criuPath, ...criuArgs('dump', { ...options, lazyPages: true }), '--status-fd', '3'];
  const started = performance.now();
  // Its output to a file, not to a pipe of ours: a server that dies must not take the page server with it (SIGPIPE).
  const outputPath = `${logPath}.out`;
  const dump = spawnStatusChild(command, outputPath);
  const { child, status, exited } = dump;
  if (child.pid) await onSpawn?.(child.pid);
  const judge = async (): Promise<LazyDumpEnd> => {
    await exited;
    const [log, output] = await Promise.all([readFile(logPath, 'utf8').catch(() => ''), readFile(outputPath, 'utf8').catch(() => '')]);
    const { errors } = readVerdict('dump', log);
    const printed = output.split('\n').filter((l) => /error/i.test(l)).slice(0, 3);
    return {
      exitCode: dump.exitCode, signal: dump.signal,
      errors: [...errors, ...(errors.length ? [] : printed), ...(dump.signal ? [`criu dump was killed by ${dump.signal}`] : [])],
      accepted: /Accepted connection from/.test(log), served: /Lazy pages transfer finished successfully/.test(log), ms: performance.now() - started,
    };
  };
  const ready = await statusReady(status, timeoutMs);
  const durationMs = performance.now() - started;
  if (ready !== 'ready') {
    child.kill('SIGKILL');
    const end = await judge();
    throw new CriuError({ op: 'dump', command, exitCode: end.exitCode, errors: end.errors.length ? end.errors : [`criu dump ${ready === 'late' ? 'timed out' : 'ended'} before its images were complete`], logPath, timedOut: ready === 'late' });
  }
  return { pid: child.pid!, command, logPath, durationMs, done: judge(), kill: () => void child.kill('SIGKILL') };
}
