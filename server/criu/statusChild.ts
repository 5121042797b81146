// A criu of our own that outlives its call (the lazy-pages daemon, a lazy dump serving its pages): its output to a
// file, not a pipe (a server that dies must not take it down with SIGPIPE), its --status-fd 3 a pipe, its end kept.
import 'server-only';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Readable } from 'node:stream';

export interface StatusChild {
  child: ChildProcess;
  /** fd 3 of the child: criu writes one byte there once it is ready (--status-fd 3). */
  status: Readable;
  /** Settles once the process has exited (or could not start). */
  exited: Promise<void>;
  /** How it ended; both undefined while it runs. */
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
}

export function spawnStatusChild(argv: string[], outputPath: string): StatusChild {
  const outputFd = openSync(outputPath, 'w', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', outputFd, outputFd, 'pipe'] });
  } finally {
    closeSync(outputFd);
  }
  let exitCode: number | undefined;
  let signal: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', () => resolve());
    child.once('exit', (code, sig) => {
      exitCode = code ?? undefined;
      signal = sig ?? undefined;
      resolve();
    });
  });
  return {
    child, status: child.stdio[3] as Readable, exited,
    get exitCode() { return exitCode; },
    get signal() { return signal; },
  };
}

/**
 * Waits for criu's status byte (status_ready: one byte, then the fd is closed): 'ready', 'ended' (the fd closed or
 * failed first: criu gave up) or 'late' (none within timeoutMs). The pipe is let go either way.
 */
export async function statusReady(status: Readable, timeoutMs: number): Promise<'ready' | 'ended' | 'late'> {
  const outcome = await new Promise<'ready' | 'ended' | 'late'>((resolve) => {
    const timer = setTimeout(() => resolve('late'), timeoutMs);
    status.once('data', () => { clearTimeout(timer); resolve('ready'); });
    status.once('end', () => { clearTimeout(timer); resolve('ended'); });
    status.once('error', () => { clearTimeout(timer); resolve('ended'); });
  });
  status.destroy();
  (status as unknown as { unref?: () => void }).unref?.();
  return outcome;
}
