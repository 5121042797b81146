// criu dump and restore driven over CRIU's RPC (`criu swrk`, as go-criu and pycriu drive it), by a worker started
// ahead of time in the server: neither the fork of this big process nor criu's own start is on the operation's
// critical path.
//
// Why (bench/results/overhead.md): spawning a program from the server (~200-400 MB resident) costs 8.4 ms against
// 3.1 ms from a small process, and criu's exec and start come on top; a worker already waiting on its socket
// starts the dump the moment the request is written. The worker is the criu that does the work (its PID is the
// one recorded for crash recovery), its log is written and judged exactly as the command line's, and what it
// prints goes to a file, never to a pipe of ours (a server dying mid-dump must not kill criu by SIGPIPE).
import 'server-only';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { CriuOptions } from './options';
import { decodeResponse, encodeRequest, rpcConfigLines, type RpcResponse } from './rpc';
import { trace } from '../trace';
import { prioritize } from './priority';

interface SeqpacketAddon {
  pair(): [number, number];
  send(fd: number, message: Buffer): void;
  recvNow(fd: number): Buffer | null;
  whenReadable(fd: number, callback: () => void): void;
  stopWatching(fd: number): void;
  close(fd: number): void;
}

// native/seqpacket.node (see native/seqpacket.c); without it criu runs from its command line, as before. The path is
// built, not written out: Next's bundler (which takes this module in for the environment page's criu check) cannot
// place an addon in its chunks, and the engine that runs dumps is server/main.ts's, never the bundle's.
const addonFile = ['..', '..', 'native', 'seqpacket.node'].join('/');
const addon: SeqpacketAddon | undefined = (() => {
  try {
    return createRequire(import.meta.url)(addonFile) as SeqpacketAddon;
  } catch {
    return undefined;
  }
})();

export const swrkAvailable = () => addon !== undefined;

/** How a worker's run ended. */
export interface SwrkOutcome {
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  timedOut: boolean;
  /** What criu printed outside its log (stderr), usually nothing. */
  output: string;
  /** criu's answer over the socket (none when it died first). */
  response?: RpcResponse;
  /** The worker could not be started at all. */
  spawnError?: Error;
  durationMs: number;
  /** criu answered success and was still exiting: taken at its answer (exitCode unknown yet; criu exits 0 then). */
  answered?: boolean;
}

class Worker {
  readonly child: ChildProcess;
  readonly spawnedAt = performance.now();
  readonly exited: Promise<void>;
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  spawnError: Error | undefined;
  /** Our end of the socket pair. */
  readonly fd: number;
  /** Our fd of the (already unlinked) file criu's stdout and stderr go to. */
  private readonly outputFd: number;

  /** fds: given to criu as its fds 4, 5, ... (its fd 3 is the socket), for inherit_fd (rpc.ts inheritFdEntries). */
  constructor(criuPath: string, outputDir: string, fds: number[] = []) {
    const [ours, theirs] = addon!.pair();
    const outputFile = path.join(outputDir, `swrk-${process.pid}-${Math.random().toString(36).slice(2)}.out`);
    this.outputFd = openSync(outputFile, 'w+', 0o600);
    this.fd = ours;
    try {
      this.child = spawn(criuPath, ['swrk', '3'], { stdio: ['ignore', this.outputFd, this.outputFd, theirs, ...fds] });
      // Set while it waits, before any request (priority.ts).
      prioritize(this.child.pid);
    } finally {
      // The child holds its own copies now.
      addon!.close(theirs);
      unlinkSync(outputFile);
    }
    // An idle worker must not keep this process (a CLI call) alive; at our exit its recv() ends and it exits.
    this.child.unref();
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.spawnError = error;
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? undefined;
        this.signal = signal ?? undefined;
        resolve();
      });
    });
  }

  get alive(): boolean {
    return this.exitCode === undefined && this.signal === undefined && !this.spawnError;
  }

  private answer: { response?: RpcResponse } | undefined;

  /** criu's answer, if it has come (never waits); read once. An end closed with no answer: undefined. */
  readAnswer(): RpcResponse | undefined {
    if (!this.answer) {
      const message = addon!.recvNow(this.fd);
      if (message) this.answer = { response: message.length ? decodeResponse(message) : undefined };
    }
    return this.answer?.response;
  }

  /** What criu printed (read once it has exited), criu's answer, then our fds closed. */
  finish(): { output: string; response?: RpcResponse } {
    let response: RpcResponse | undefined;
    try {
      response = this.readAnswer();
    } catch {}
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    for (let at = 0, n; (n = readSync(this.outputFd, buffer, 0, buffer.length, at)) > 0; at += n) chunks.push(Buffer.from(buffer.subarray(0, n)));
    this.dispose();
    return { output: Buffer.concat(chunks).toString('utf8'), response };
  }

  private disposed = false;

  /** Closes our fds, once (an fd number closed twice could be another file's by then). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    addon!.close(this.fd);
    closeSync(this.outputFd);
  }
}

/**
 * Workers for one criu binary. By default none waits: each operation starts its own (the CLI runs one operation and
 * exits; a test counts this process's fds before and after). A server keeps one waiting (keepWorkerWaiting), and
 * starts the next refillDelayMs after an operation took it: not while criu works (the fork and criu's start would
 * take CPU from it on these 2 cores), and most likely after the response is out.
 */
class WorkerPool {
  private idle: Worker | undefined;
  private dir: string | undefined;
  warm = false;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(private readonly criuPath: string) {}

  /** Where workers' output files (unlinked at once) and option files live: a folder of ours, root's only. */
  folder(): string {
    if (!this.dir) {
      const dir = (this.dir = mkdtempSync(path.join(os.tmpdir(), 'freezeframe-criu-')));
      // Gone with this process (its files are removed one by one already): every CLI call and test made one, and
      // /tmp held 2321 of them after a day of tests. A folder of its own, not one shared name: /tmp is everyone's.
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    return this.dir;
  }

  take(): Worker {
    const worker = this.idle?.alive ? this.idle : new Worker(this.criuPath, this.folder());
    if (this.idle && this.idle !== worker) this.idle.dispose();
    this.idle = undefined;
    return worker;
  }

  /** Workers started ahead of time with fds of their own (a frozen desktop's kept namespace), by key. */
  private readonly keyed = new Map<string, { worker: Worker; expiry: NodeJS.Timeout }>();

  /**
   * A worker holding fds for the next operation that names key (the server's only: warm). At most maxKeyed wait,
   * each at most keyedTtlMs: a frozen desktop restored later gets a worker started then (as the command line
   * did), and none holds a namespace for long after its desktop went.
   */
  prepare(key: string, fds: number[]): void {
    if (!this.warm) return;
    this.forget(key);
    while (this.keyed.size >= maxKeyed) this.forget(this.keyed.keys().next().value!);
    try {
      const worker = new Worker(this.criuPath, this.folder(), fds);
      const expiry = setTimeout(() => this.forget(key), keyedTtlMs);
      expiry.unref();
      this.keyed.set(key, { worker, expiry });
      void worker.exited.then(() => {
        if (this.keyed.get(key)?.worker === worker) this.forget(key);
      });
    } catch {}
  }

  /** The worker prepared for key, or a new one given these fds. */
  takeKeyed(key: string | undefined, fds: number[]): Worker {
    const kept = key === undefined ? undefined : this.keyed.get(key);
    if (kept) {
      clearTimeout(kept.expiry);
      this.keyed.delete(key!);
      if (kept.worker.alive) return kept.worker;
      kept.worker.dispose();
    }
    return new Worker(this.criuPath, this.folder(), fds);
  }

  /** Lets key's worker go: our end of its socket closed, its recv() ends and it exits. */
  forget(key: string): void {
    const kept = this.keyed.get(key);
    if (!kept) return;
    clearTimeout(kept.expiry);
    this.keyed.delete(key);
    kept.worker.dispose();
  }

  /** Once an operation is over: the next worker, a little later. */
  scheduleRefill(): void {
    if (!this.warm) return;
    clearTimeout(this.refillTimer);
    this.refillTimer = setTimeout(() => this.refill(), refillDelayMs);
    this.refillTimer.unref();
  }

  refill(): void {
    if (this.idle?.alive) return;
    this.idle?.dispose();
    try {
      const worker = new Worker(this.criuPath, this.folder());
      this.idle = worker;
      void worker.exited.then(() => {
        // Gone while idle (killed by hand, or criu refused to start): the next operation starts one itself.
        if (this.idle === worker) {
          this.idle = undefined;
          worker.dispose();
        }
      });
    } catch {}
  }
}

const refillDelayMs = 100;
const maxKeyed = 4;
const keyedTtlMs = 10 * 60_000;
const pools = new Map<string, WorkerPool>();

function poolFor(criuPath: string): WorkerPool {
  let pool = pools.get(criuPath);
  if (!pool) pools.set(criuPath, (pool = new WorkerPool(criuPath)));
  return pool;
}

/** From now on one worker waits for this process's next dump or restore (the server; not the CLI). */
export function keepWorkerWaiting(criuPath: string): void {
  if (!addon) return;
  const pool = poolFor(criuPath);
  pool.warm = true;
  pool.refill();
}

/**
 * A worker for the next operation that names key, started now with fds as its fds 4, 5, ...: a contained desktop's
 * restore gives criu its kept namespace (inherit_fd), which a worker started ahead for any operation cannot hold.
 * The fds are the caller's to close (the worker has its own copies).
 */
export function prepareWorker(criuPath: string, key: string, fds: number[]): void {
  if (addon) poolFor(criuPath).prepare(key, fds);
}

/** Drops the worker prepared for key, if any (its desktop stopped, or restored another way). */
export function forgetWorker(criuPath: string, key: string): void {
  pools.get(criuPath)?.forget(key);
}

/**
 * criu dump or restore over RPC. onSpawn gets the PID of the criu at work as soon as the request is written
 * (the worker has existed since before: that is the point).
 */
export async function runSwrk(
  criuPath: string,
  op: 'dump' | 'restore',
  options: CriuOptions,
  logPath: string,
  {
    timeoutMs,
    onSpawn,
    inheritFds = [],
    workerKey,
  }: {
    timeoutMs: number;
    onSpawn?: (pid: number) => void | Promise<void>;
    /** Our fds the worker must hold (its 4, 5, ...), for options.inheritFd. */
    inheritFds?: number[];
    /** The worker prepareWorker started for this operation, if it is still there. */
    workerKey?: string;
  },
): Promise<SwrkOutcome> {
  const pool = poolFor(criuPath);
  const started = performance.now();
  // Written before the request, and left for criu to read even if this process dies right after it. Synchronously
  // (~100 bytes): from here to the request nothing yields to the event loop, where the thumbnail's scaling (5-10 ms)
  // waits for its turn (measured: an awaited write put it before the request).
  const configFile = path.join(pool.folder(), `${path.basename(logPath)}-${process.pid}-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(configFile, `${rpcConfigLines(options, logPath).join('\n')}\n`, { mode: 0o600 });
  const t = trace(`swrk ${op}`);
  const worker = inheritFds.length ? pool.takeKeyed(workerKey, inheritFds) : pool.take();
  t.step(worker.child.pid && worker.spawnedAt < started ? 'worker waiting' : 'worker started now');
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  let killer: NodeJS.Timeout | undefined;
  let exiting = false;
  try {
    const request = encodeRequest(op, options, configFile);
    if (!worker.child.pid) await worker.exited;
    if (worker.spawnError) {
      worker.dispose();
      return { exitCode: undefined, signal: undefined, timedOut, output: '', spawnError: worker.spawnError, durationMs: performance.now() - started };
    }
    addon!.send(worker.fd, request);
    // Whoever records criu's PID can tell, after a crash of this process, whether criu is still at work. Best
    // effort, and never in criu's way (see runCriu).
    const noted = onSpawn ? Promise.resolve(worker.child.pid!).then(onSpawn).catch(() => {}) : undefined;
    timer = setTimeout(() => {
      timedOut = true;
      worker.child.kill('SIGTERM');
      killer = setTimeout(() => worker.child.kill('SIGKILL'), 5_000);
    }, timeoutMs);
    t.step('request sent');
    // A restore is done once criu answers: its tree runs. Its exit comes after, and may wait for the kernel (its
    // nftables unlock's netlink socket is closed there, scripts/criu-patches/0003: 6-14 ms between its answer and its
    // exit in the overhead bench). A dump answers as it exits.
    if (op === 'restore') await Promise.race([new Promise<void>((resolve) => addon!.whenReadable(worker.fd, resolve)), worker.exited]);
    if (worker.alive && answeredSuccess(worker)) {
      exiting = true;
      t.step('criu answered');
      t.done();
      await noted;
      const durationMs = performance.now() - started;
      // Its exit, what it printed and our fds, once it has exited; its timeout holds until then.
      void worker.exited.then(() => {
        clearTimeout(timer);
        clearTimeout(killer);
        void keepOutput(logPath, worker.finish().output);
      });
      return { exitCode: undefined, signal: undefined, timedOut, output: '', response: worker.readAnswer(), durationMs, answered: true };
    }
    // Exited first, or answered a failure: judged at its exit, as a dump is. The wait is stopped: left, it would
    // hold a copy of our end until every process that has criu's end closed it.
    if (op === 'restore') addon!.stopWatching(worker.fd);
    await worker.exited;
    t.step('criu exited');
    t.done();
    await noted;
    const durationMs = performance.now() - started;
    const { output, response } = worker.finish();
    return { exitCode: worker.exitCode, signal: worker.signal, timedOut, output, response, durationMs };
  } finally {
    pool.scheduleRefill();
    if (!exiting) {
      clearTimeout(timer);
      clearTimeout(killer);
    }
    // criu read it with the request.
    rmSync(configFile, { force: true });
  }
}

function answeredSuccess(worker: Worker): boolean {
  try {
    return worker.readAnswer()?.success === true;
  } catch {
    return false; // judged at its exit, as before
  }
}

/** Writes what criu printed beside its log, as the command line's runs do (kept only when there is something). */
export async function keepOutput(logPath: string, output: string): Promise<void> {
  if (output) await writeFile(`${logPath}.out`, output).catch(() => {});
}
