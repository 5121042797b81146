// Runs one criu operation (check, dump, restore), with a timeout, and judges it by exit code AND log: a dump or
// restore over CRIU's RPC by a worker started ahead of time (swrk.ts), else (check, inherited fds) its command line.
import 'server-only';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import path from 'node:path';
import { loadExeca } from '../lazyExeca';
import { criuArgs, type CriuOperation, type CriuOptions } from './options';
import { CriuError } from './errors';
import { rpcCanSay } from './rpc';
import { keepOutput, runSwrk, swrkAvailable } from './swrk';
import { hintFor, readVerdict, type LogVerdict } from './verdict';
import { trace } from '../trace';
import { prioritize } from './priority';

export interface CriuResult {
  op: CriuOperation;
  command: string[];
  durationMs: number;
  stdout: string;
  /** The verdict line of the log (dump and restore). */
  lastLine?: string;
  logPath?: string;
}

const defaultTimeoutMs: Record<CriuOperation, number> = { check: 30_000, dump: 300_000, restore: 300_000 };

export async function runCriu(
  criuPath: string,
  op: CriuOperation,
  options: CriuOptions = {},
  {
    timeoutMs = defaultTimeoutMs[op],
    onSpawn,
    inheritFds = [],
    runner = 'swrk',
    workerKey,
  }: {
    timeoutMs?: number;
    onSpawn?: (pid: number) => void | Promise<void>;
    /** fds of ours criu gets as its fds 3, 4, ... (for `inheritFd: ['fd[3]:KEY']`, e.g. a kept network namespace). */
    inheritFds?: number[];
    /** 'swrk': a dump or restore over CRIU's RPC when it can say the options (swrk.ts); else the command line. */
    runner?: 'swrk' | 'exec';
    /** With inheritFds: the key of a worker started ahead holding them (swrk.ts prepareWorker). */
    workerKey?: string;
  } = {},
): Promise<CriuResult> {
  const command = [criuPath, ...criuArgs(op, options)];
  const logPath =
    options.logFile && options.imagesDir ? path.resolve(options.imagesDir, options.logFile) : options.logFile;
  // inheritFds: over RPC too, by a worker holding them (prepared ahead, or started now as the command line would).
  const overRpc = runner === 'swrk' && op !== 'check' && logPath && rpcCanSay(options, logPath) && swrkAvailable();
  const t = trace(`criu ${op}`);
  const child = overRpc
    ? await viaSwrk(criuPath, op, options, logPath, { timeoutMs, onSpawn, inheritFds, workerKey })
    : await viaCommandLine(criuPath, op, command, logPath, { timeoutMs, onSpawn, inheritFds });
  t.step(overRpc ? 'swrk' : 'command line');
  const { output, durationMs } = child;
  if (child.notStarted) {
    // criu did not even start (not installed, not executable): say how to get it.
    throw new CriuError(
      { op, command, exitCode: undefined, errors: [child.notStarted], hint: `criu cannot be run from ${criuPath}: run scripts/install.sh (as root), which builds CRIU 4.2 into vendor/criu, or set FREEZEFRAME_CRIU.` },
      { cause: child.cause },
    );
  }

  if (op === 'check') {
    if (child.exitCode === 0 && !child.timedOut) return { op, command, durationMs, stdout: child.stdout };
    const errors = output.split('\n').filter((l) => /^Error|error|fail/i.test(l)).slice(0, 3);
    throw new CriuError(
      { op, command, exitCode: child.exitCode, errors: errors.length ? errors : [output.trim()].filter(Boolean), hint: hintFor(output), timedOut: child.timedOut },
      { cause: child.cause },
    );
  }

  const exitedWell = child.exitCode === 0 && !child.timedOut;
  let verdict: LogVerdict;
  try {
    // A success is told by the log's end (the verdict line, no error after it): its last 64 KB, not the ~0.8 MB of
    // a -v4 dump log (reading and decoding all of it took a few ms of the API's time). Anything else: all of it,
    // for the first errors.
    const tail = logPath ? await readTail(logPath, 64 * 1024) : { text: '', whole: true };
    verdict = readVerdict(op, tail.text);
    if (!(exitedWell && verdict.ok) && !tail.whole) verdict = readVerdict(op, await readFile(logPath!, 'utf8'));
  } catch (cause) {
    throw new CriuError({ op, command, exitCode: child.exitCode, errors: [`cannot read the log: ${String(cause)}`, output.trim()].filter(Boolean), logPath, timedOut: child.timedOut }, { cause });
  }
  t.step('verdict');
  t.done(`criu's own ${durationMs.toFixed(1)}`);
  if (exitedWell && verdict.ok) {
    return { op, command, durationMs, stdout: child.stdout, lastLine: verdict.lastLine, logPath };
  }
  const errors = verdict.errors.length ? verdict.errors : [verdict.lastLine || child.rpcError || output.trim()].filter(Boolean);
  // A dump that fills the disk cannot say so: its log lives on that same disk and is cut mid-line. The free space
  // left (the partial images are still there) tells it.
  const full = op === 'dump' && options.imagesDir ? await diskFull(options.imagesDir) : undefined;
  if (full) errors.unshift(full);
  throw new CriuError(
    { op, command, exitCode: child.exitCode, errors, logPath, hint: hintFor([full, ...verdict.errors, output].join('\n')), timedOut: child.timedOut },
    { cause: child.cause },
  );
}

/** How one criu run ended, whichever way it was run. */
interface Ran {
  exitCode: number | undefined;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  /** What criu printed outside its log. */
  output: string;
  /** Why criu did not start at all. */
  notStarted?: string;
  /** criu's own error message over RPC (cr_errmsg), used when its log says nothing. */
  rpcError?: string;
  cause?: unknown;
}

async function viaSwrk(
  criuPath: string,
  op: 'dump' | 'restore',
  options: CriuOptions,
  logPath: string,
  { timeoutMs, onSpawn, inheritFds, workerKey }: { timeoutMs: number; onSpawn?: (pid: number) => void | Promise<void>; inheritFds: number[]; workerKey?: string },
): Promise<Ran> {
  const ran = await runSwrk(criuPath, op, options, logPath, { timeoutMs, onSpawn, inheritFds, workerKey });
  await keepOutput(logPath, ran.output);
  const exit = ran.signal ? `criu was killed by ${ran.signal}` : undefined;
  return {
    // Taken at its answer of success, criu has yet to exit: with 0 (cr-service.c: a restore's exit is its answer).
    exitCode: ran.answered ? 0 : ran.exitCode,
    timedOut: ran.timedOut,
    durationMs: ran.durationMs,
    stdout: '',
    output: [ran.output, exit].filter(Boolean).join('\n'),
    notStarted: ran.spawnError ? String(ran.spawnError) : undefined,
    rpcError: ran.response?.errmsg,
    cause: ran.spawnError,
  };
}

async function viaCommandLine(
  criuPath: string,
  op: CriuOperation,
  command: string[],
  logPath: string | undefined,
  { timeoutMs, onSpawn, inheritFds }: { timeoutMs: number; onSpawn?: (pid: number) => void | Promise<void>; inheritFds: number[] },
): Promise<Ran> {
  const execa = await loadExeca();
  const started = performance.now();
  // A dump or restore writes what it prints to a file beside its log, not to pipes of ours: if this process dies
  // mid-operation, criu must finish its work, not die of SIGPIPE at its next line of output.
  const outputFile = op !== 'check' && logPath ? `${logPath}.out` : undefined;
  // An fd number of ours becomes the child's fd 3, 4, ... (execa passes it through; its types list numbers for
  // fds 0-2 only).
  const extra = inheritFds as unknown as 'inherit'[];
  const running = execa(criuPath, command.slice(1), {
    reject: false,
    timeout: timeoutMs,
    forceKillAfterDelay: 5_000,
    ...(outputFile
      ? { stdio: ['ignore', 'ignore', { file: outputFile }, ...extra] }
      : { stdio: ['ignore', 'pipe', 'pipe', ...extra], all: true }),
  });
  // Whoever records criu's PID can tell, after a crash of this process, whether criu is still at work.
  // Best effort, and never in criu's way: a note that fails (a disk filled by this very dump) must neither leave
  // criu unwatched nor hide criu's own verdict.
  const noted = running.pid && onSpawn ? Promise.resolve(running.pid).then(onSpawn).catch(() => {}) : undefined;
  if (op !== 'check') prioritize(running.pid);
  const child = await running;
  await noted;
  const durationMs = performance.now() - started;
  const output = outputFile ? await readFile(outputFile, 'utf8').catch(() => '') : (child.all ?? '');
  const notStarted = child.exitCode === undefined && !child.signal && !child.timedOut ? (child.shortMessage ?? String(child.cause)) : undefined;
  return { exitCode: child.exitCode, timedOut: child.timedOut, durationMs, stdout: child.stdout ?? '', output, notStarted, cause: child };
}

/** The last bytes of a file from a line's start (whole: the file is shorter than that). */
async function readTail(file: string, bytes: number): Promise<{ text: string; whole: boolean }> {
  // Synchronously (a log criu has just written, in the page cache): four calls through libuv's pool took ~0.5 ms
  // of every operation's path.
  const fd = openSync(file, 'r');
  try {
    const { size } = fstatSync(fd);
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    const bytesRead = readSync(fd, buffer, 0, buffer.length, start);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    return start === 0 ? { text, whole: true } : { text: text.slice(text.indexOf('\n') + 1), whole: false };
  } finally {
    closeSync(fd);
  }
}

/** "No space left on device: ..." when the file system holding dir has (almost) nothing left, else undefined. */
async function diskFull(dir: string): Promise<string | undefined> {
  const fs = await statfs(dir).catch(() => undefined);
  if (!fs) return undefined;
  const free = fs.bavail * fs.bsize;
  return free < 1024 * 1024 ? `No space left on device: ${free} bytes free where the images are (${dir})` : undefined;
}

/** criu --version's number, e.g. "4.2.1". */
export async function criuVersion(criuPath: string): Promise<string> {
  const execa = await loadExeca();
  const { stdout } = await execa(criuPath, ['--version'], { timeout: 10_000 });
  return /Version:\s*(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
}
