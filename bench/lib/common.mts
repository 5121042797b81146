// Shared by the benches: statistics, machine facts, load, the server under test, raw criu runs, markdown + SVG out.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const resultsDir = path.join(root, 'bench/results');
// The engine's own (FREEZEFRAME_CRIU, as server/config.ts reads it): raw criu is the same binary as the API's.
export const criuPath = process.env.FREEZEFRAME_CRIU ?? path.join(root, 'vendor/criu/bin/criu');
import { prioritize as prioritizeCriu } from '../../server/criu/priority.ts';

// ---- statistics ----
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))));
  return s[i];
}
export const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
export const ratio = (x: number, base: number) => (Number.isFinite(x) && Number.isFinite(base) && base !== 0 ? x / base : NaN);
export const fmtRatio = (x: number, base: number) => `${fmt(ratio(x, base), 2)}×`;

// ---- the machine ----
export function machine(): Record<string, string> {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  let criu = '?';
  try {
    criu = /Version:\s*(\S+)/.exec(execFileSync(criuPath, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {}
  return {
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    cpu: model,
    node: process.version,
    criu,
  };
}
/** The 1/5/15-minute load averages, as /proc/loadavg has them. */
export const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Load seen at the start, between phases and at the end of a bench: written into its results. */
export class LoadLog {
  readonly entries: { at: string; label: string; load: string }[] = [];
  note(label: string) {
    const entry = { at: new Date().toISOString().slice(11, 19), label, load: load() };
    this.entries.push(entry);
    console.log(`[load] ${entry.at} ${label}: ${entry.load}`);
  }
  /** The results files' closing section: the load at each phase of the run. */
  markdown(): string {
    return ['## Load during the run', '', '| time (UTC) | when | load 1/5/15 min |', '|---|---|---|', ...this.entries.map((e) => `| ${e.at} | ${e.label} | ${e.load} |`)].join('\n');
  }
}

// ---- arguments: --name=value ----
export function arg(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}
export const numArg = (name: string, fallback: number) => Number(arg(name, String(fallback)));

// ---- the server under test (server/main.ts, production build) ----
export interface Server {
  url: string;
  port: number;
  stateDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** env: more of the server's environment (e.g. FREEZEFRAME_CRIU_LOG_LEVEL, for a bench comparing two servers). */
export async function startServer({ port, displays, env = {} }: { port: number; displays: string; env?: Record<string, string> }): Promise<Server> {
  if (!existsSync(path.join(root, '.next/BUILD_ID'))) {
    console.log('[server] no .next/BUILD_ID: running npx next build');
    execFileSync('npx', ['next', 'build'], { cwd: root, stdio: 'inherit' });
  }
  const stateDir = mkdtempSync(path.join(tmpdir(), 'freezeframe-bench-'));
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (analysis).
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...extra, '--import', 'tsx', '--import', './server/runtime/register.js', 'server/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DEFAULT_DESKTOP: '0', FREEZEFRAME_DISPLAYS: displays, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: string[] = [];
  // BENCH_SERVER_LOG=file: the server's output is also appended there (to see why a server died mid-bench).
  const logFile = process.env.BENCH_SERVER_LOG;
  const keep = (b: Buffer) => {
    logLines.push(...b.toString().split('\n').filter(Boolean));
    if (logFile) appendFileSync(logFile, b);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${logLines.join('\n')}`);
    try {
      if ((await fetch(`${url}/api/desktops`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`the server did not answer in 60 s: ${logLines.join('\n')}`);
    await delay(250);
  }
  console.log(`[server] ${url} pid ${child.pid} state ${stateDir}`);
  const stop = async () => {
    // Every desktop of this state dir, stopped through the server that owns it.
    try {
      const { desktops } = (await (await fetch(`${url}/api/desktops`)).json()) as { desktops: { id: string; state: string }[] };
      for (const d of desktops) if (d.state !== 'stopped') await api(url, 'POST', `/api/desktops/${d.id}/stop`).catch((e) => console.warn(`[server] stop ${d.id}: ${e}`));
    } catch (error) {
      console.warn(`[server] listing desktops to stop them failed: ${error}`);
    }
    // Whatever the API could not stop (a server that died, a failed call): the records' roots, by pid.
    for (const dir of readdirSync(path.join(stateDir, 'desktops'), { withFileTypes: true })) {
      try {
        const r = JSON.parse(readFileSync(path.join(stateDir, 'desktops', dir.name, 'desktop.json'), 'utf8'));
        if (r.pid && isAlive(r.pid) && readFileSync(`/proc/${r.pid}/cmdline`, 'utf8').includes('desktop.sh')) {
          console.warn(`[server] desktop ${r.id} still runs: SIGTERM to its root ${r.pid}`);
          await killRawTree(r.pid);
        }
      } catch {}
    }
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), delay(6_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(stateDir, { recursive: true, force: true });
    console.log('[server] stopped');
  };
  return { url, port, stateDir, child, stop };
}

/** One API call; throws on a non-2xx status. Returns the JSON body and the wall time of the call. */
export async function api<T = any>(base: string, method: string, p: string, body?: unknown): Promise<{ body: T; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(base + p, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? (method === 'POST' ? '{}' : undefined) : JSON.stringify(body) });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 500)}`);
  return { body: JSON.parse(text) as T, ms };
}

// ---- raw criu ----
/** Runs criu with argv (after the binary), timed from spawn to exit, as execa in server/criu/run.ts does. */
export function runRawCriu(args: string[], inheritFds: number[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // inheritFds become criu's fds 3, 4, ... (a contained desktop's kept network namespace: --inherit-fd fd[3]:KEY).
    const child = spawn(criuPath, args, { stdio: ['ignore', 'pipe', 'pipe', ...inheritFds] });
    // At the engine's priority too (server/criu/priority.ts: FREEZEFRAME_CRIU_NICE, -10 by default), so the ratio
    // is what the API adds, not what the priority saves (BENCH_RAW_NICE=0: raw criu at the bench's own, to see that).
    if (process.env.BENCH_RAW_NICE !== '0') prioritizeCriu(child.pid);
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`criu ${args.join(' ')} exited ${code}: ${out.slice(-800)}`));
    });
  });
}
/** The arguments of a recorded command ([criu, op, ...flags]) with some flags' values replaced and -vN set. */
export function rewriteArgs(command: string[], values: Record<string, string>, logLevel?: number): string[] {
  const args = command.slice(1);
  for (let i = 0; i < args.length; i++) if (args[i] in values) args[i + 1] = values[args[i]];
  return logLevel === undefined ? args : args.map((a) => (/^-v\d$/.test(a) ? `-v${logLevel}` : a));
}
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
/** Ends a tree that raw criu restored (the engine's record does not know it): SIGTERM its root, as the engine does. */
export async function killRawTree(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && isAlive(pid); i++) await delay(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && isAlive(pid); i++) await delay(100);
}
/** Total bytes under dir. */
export function dirBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

// ---- output ----
export interface Bar {
  label: string;
  value: number;
  /** Optional second series value (drawn as a thinner bar under the first). */
  note?: string;
}
/** A horizontal bar chart, one group per section; plain SVG written by hand. */
export function barChart(title: string, unit: string, groups: { name: string; bars: Bar[] }[], goal?: { value: number; label: string }, scale: 'linear' | 'log' = 'linear'): string {
  const rowH = 22, labelW = 260, chartW = 420, pad = 12, headH = 34;
  const all = groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite);
  const max = Math.max(...all, goal?.value ?? 0) * 1.1 || 1;
  // log: bars from 1 (unit) up, so values three orders of magnitude apart both stay readable.
  const frac = (v: number) => (scale === 'log' ? Math.log10(Math.max(v, 1)) / Math.log10(max) : v / max);
  let y = headH;
  const parts: string[] = [];
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const colours = ['#2b7bb9', '#e0883a', '#4caf50', '#9c27b0', '#c0392b', '#607d8b'];
  for (const g of groups) {
    parts.push(`<text x="${pad}" y="${y + 14}" font-weight="bold">${esc(g.name)}</text>`);
    y += rowH;
    g.bars.forEach((b, i) => {
      const w = Number.isFinite(b.value) ? frac(b.value) * chartW : 0;
      parts.push(`<text x="${pad + 10}" y="${y + 14}">${esc(b.label)}</text>`);
      parts.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 7}" fill="${colours[i % colours.length]}"/>`);
      parts.push(`<text x="${labelW + w + 5}" y="${y + 14}">${esc(Number.isFinite(b.value) ? `${fmt(b.value, b.value < 10 ? 2 : 1)} ${unit}` : 'n/a')}${b.note ? ' ' + esc(b.note) : ''}</text>`);
      y += rowH;
    });
    y += 6;
  }
  if (goal) {
    const gx = labelW + frac(goal.value) * chartW;
    parts.push(`<line x1="${gx.toFixed(1)}" y1="${headH}" x2="${gx.toFixed(1)}" y2="${y}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${gx.toFixed(1)}" y="${y + 14}" fill="#c0392b" text-anchor="middle">${esc(goal.label)}</text>`);
    y += 20;
  }
  const width = labelW + chartW + 190;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + pad}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad}" y="20" font-size="15" font-weight="bold">${esc(title)}${scale === 'log' ? ' (log scale)' : ''}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
export function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
export function writeResults(name: string, markdown: string, svg?: string, json?: unknown): void {
  mkdirSync(resultsDir, { recursive: true });
  name = arg('out', name);
  writeFileSync(path.join(resultsDir, `${name}.md`), markdown);
  if (svg) writeFileSync(path.join(resultsDir, `${name}.svg`), svg);
  if (json) writeFileSync(path.join(resultsDir, `${name}.json`), JSON.stringify(json, null, 2));
  console.log(`[results] bench/results/${name}.md${svg ? ` + ${name}.svg` : ''}`);
}
export function header(title: string, purpose: string, loads: LoadLog, extra: string[] = []): string {
  const m = machine();
  return [
    `# ${title}`,
    '',
    purpose,
    '',
    `Run ${new Date().toISOString()} on ${m.nproc} × ${m.cpu}, kernel ${m.kernel}, Node ${m.node}, CRIU ${m.criu}.`,
    `Command: \`${['node', ...process.execArgv, path.relative(root, process.argv[1]), ...process.argv.slice(2)].join(' ')}\``,
    ...extra,
    '',
  ].join('\n');
}

/** Runs fn, then cleanup whatever happened (also on SIGINT/SIGTERM). */
export async function withCleanup(fn: () => Promise<void>, cleanups: (() => Promise<void>)[]): Promise<void> {
  let cleaning: Promise<void> | undefined;
  const clean = () =>
    (cleaning ??= (async () => {
      for (const c of cleanups) await c().catch((e) => console.warn(`[cleanup] ${e}`));
    })());
  const onSignal = () => void clean().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await fn();
  } finally {
    await clean();
  }
}
