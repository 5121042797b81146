// Purpose: dump and restore wall time through the HTTP API vs the raw criu command line with the same flags (alternating pairs).
//
// usage: node --import tsx --import ./server/runtime/register.js bench/overhead.mts [--pairs=7] [--port=3301]
//        [--displays=80-95] [--geometry=1024x768]
// Two identical desktops (xterm): A is cycled through the API, B with raw criu (see lib/raw.mts for why two).
import { readFileSync, statSync } from 'node:fs';
import { decodeStats } from '../server/criu/images.ts';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { api, arg, barChart, fmt, fmtRatio, header, load, LoadLog, median, numArg, startServer, table, withCleanup, writeResults, type Server } from './lib/common.mts';
import { engineCommands, RawDesktop } from './lib/raw.mts';

const pairs = numArg('pairs', 7);
const port = numArg('port', 3301);
const displays = arg('displays', '80-95');
const geometry = arg('geometry', '1024x768');
const GOAL = 1.15;

const loads = new LoadLog();
let server: Server | undefined;
let raw: RawDesktop | undefined;

interface Pair {
  apiDump: number; apiRestore: number; engineDump: number; engineRestore: number;
  rawDump: number; rawRestore: number; apiBytes: number; rawBytes: number; rawFirst: boolean; load: string;
  dumpStats?: Record<string, number>;
  /** CRIU's own stats of the raw dump (stats-dump in its images), to compare with the API's. */
  rawDumpStats?: Record<string, number>;
  /** Where the API's time went, from the files the engine writes (mtimes) and its records' timestamps (ms). */
  dumpPhases?: Record<string, number>;
  restorePhases?: Record<string, number>;
  /** criu's own span, from its log's timestamps (its start to its verdict line): API's and raw's, dump and restore. */
  spans?: { apiDump: number; rawDump: number; apiRestore: number; rawRestore: number };
}
const mtime = (f: string) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? NaN;
const birth = (f: string) => statSync(f).birthtimeMs;
/** criu's own span in ms: its log's last timestamp, "(SS.UUUUUU)", counted from criu's start. */
const logSpan = (f: string) => {
  const stamps = readFileSync(f, 'utf8').match(/^\((\d+\.\d+)\)/gm);
  return stamps ? Number(stamps.at(-1)!.slice(1, -1)) * 1000 : NaN;
};

async function main() {
  loads.note('start');
  server = await startServer({ port, displays });
  const url = server.url;
  const start = async () => (await api(url, 'POST', '/api/desktops', { geometry, apps: ['xterm'] })).body.desktop;
  const A = await start();
  const B = await start();
  await delay(1000);
  // Warm-up, and the engine's own command lines: one API cycle on each desktop.
  const templates = await engineCommands(url, A.id);
  // B's own command lines: a contained desktop's name its namespace's inode and its folders (the same flags).
  const bTemplates = await engineCommands(url, B.id);
  console.log(`dump: ${templates.dump.join(' ')}\nrestore: ${templates.restore.join(' ')}`);
  console.log(`raw dump: ${bTemplates.dump.join(' ')}\nraw restore: ${bTemplates.restore.join(' ')}`);
  const bRecord = (await api(url, 'GET', `/api/desktops/${B.id}`)).body.desktop;
  raw = new RawDesktop(server.stateDir, B.id, bRecord.pid as number, bTemplates, path.join(server.stateDir, 'bench-raw'), bRecord.kind === 'contained');
  // A raw warm-up cycle too.
  await raw.dump();
  await raw.restore();
  await delay(500);

  const results: Pair[] = [];
  loads.note('pairs');
  for (let i = 0; i < pairs; i++) {
    const rawFirst = i % 2 === 1;
    const p: Partial<Pair> = { rawFirst, load: load(), spans: { apiDump: NaN, rawDump: NaN, apiRestore: NaN, rawRestore: NaN } };
    let cpId = '';
    let thumbnailOf: { file: string; criuEnd: number } | undefined;
    const apiDump = async () => {
      const t0 = Date.now();
      const { body, ms } = await api(url, 'POST', `/api/desktops/${A.id}/checkpoint`);
      const t1 = Date.now();
      p.apiDump = ms;
      const dir = path.join(server!.stateDir, 'checkpoints', body.checkpoint.id);
      const created = Date.parse(body.checkpoint.createdAt);
      // criu creates its log as it starts: the log's birth time is criu's start (statx; ext4 has it).
      const criuStart = birth(path.join(dir, 'dump.log'));
      const criuEnd = mtime(path.join(dir, 'dump.log'));
      p.spans!.apiDump = logSpan(path.join(dir, 'dump.log'));
      const logCopy = mtime(path.join(dir, 'desktop.log'));
      const record = mtime(path.join(dir, 'checkpoint.json'));
      p.dumpPhases = {
        'request → checkpoint record created (HTTP, Next, lock, reconcile)': created - t0,
        'screen read over VNC, in parallel with the record saves and treePids → criu starts': criuStart - created,
        'criu dump (its log\'s birth to its last write)': criuEnd - criuStart,
        'criu exit, log verdict, desktop.log copy (the tree\'s exit, stats, image size in parallel)': logCopy - criuEnd,
        'checkpoint record save': record - logCopy,
        'desktop record, event, JSON response': t1 - record,
      };
      // Written after the reply (server/desktops/operations/checkpoint.ts): looked at by the restore, later.
      thumbnailOf = { file: path.join(dir, 'thumbnail.png'), criuEnd };
      p.engineDump = body.checkpoint.dumpMs;
      p.apiBytes = body.checkpoint.imageBytes;
      p.dumpStats = body.checkpoint.dumpStats;
      cpId = body.checkpoint.id;
    };
    const apiRestore = async () => {
      if (thumbnailOf) p.dumpPhases!['(thumbnail PNG written after the reply, relative to criu\'s last log write)'] = mtime(thumbnailOf.file) - thumbnailOf.criuEnd;
      const t0 = Date.now();
      const { body, ms } = await api(url, 'POST', `/api/checkpoints/${cpId}/restore`);
      const t1 = Date.now();
      p.apiRestore = ms;
      const dir = path.join(server!.stateDir, 'checkpoints', cpId);
      const started = Date.parse(body.desktop.lastOperation.startedAt);
      const n = body.checkpoint.restores.length;
      const criuStart = birth(path.join(dir, `restore-${n}.log`));
      const criuEnd = mtime(path.join(dir, `restore-${n}.log`));
      p.spans!.apiRestore = logSpan(path.join(dir, `restore-${n}.log`));
      const record = mtime(path.join(dir, 'checkpoint.json'));
      p.restorePhases = {
        'request → restore begins (HTTP, Next, lock, reconcile, checks)': started - t0,
        'log copy, pidfile removal, state save (in parallel) → criu starts': criuStart - started,
        'criu restore (its log\'s birth to its last write)': criuEnd - criuStart,
        'criu exit, verdict, pidfile, identify, stats, record saves': record - criuEnd,
        'event, JSON response': t1 - record,
      };
      p.engineRestore = body.restoreMs;
    };
    const rawDump = async () => {
      p.rawDump = await raw!.dump();
      p.spans!.rawDump = logSpan(path.join(path.dirname(raw!.lastImages), 'dump.log'));
      p.rawBytes = raw!.imageBytes();
      p.rawDumpStats = decodeStats(readFileSync(path.join(raw!.lastImages, 'stats-dump'))).dump as unknown as Record<string, number>;
    };
    const rawRestore = async () => {
      p.rawRestore = await raw!.restore();
      p.spans!.rawRestore = logSpan(path.join(path.dirname(raw!.lastImages), 'restore.log'));
    };
    const steps = rawFirst ? [rawDump, apiDump, rawRestore, apiRestore] : [apiDump, rawDump, apiRestore, rawRestore];
    for (const step of steps) {
      await step();
      await delay(300);
    }
    raw.prune();
    results.push(p as Pair);
    console.log(`pair ${i + 1}: dump api ${fmt(p.apiDump!)} (criu ${fmt(p.engineDump!)}) raw ${fmt(p.rawDump!)}; restore api ${fmt(p.apiRestore!)} (criu ${fmt(p.engineRestore!)}) raw ${fmt(p.rawRestore!)} ms; load ${p.load}`);
    await delay(500);
  }
  loads.note('end');

  const m = (k: keyof Pair) => median(results.map((r) => r[k] as number));
  const dumpRatio = m('apiDump') / m('rawDump');
  const restoreRatio = m('apiRestore') / m('rawRestore');
  const md = [
    header('Overhead: HTTP API vs raw criu', 'Wall time of `POST /api/desktops/:id/checkpoint` and `POST /api/checkpoints/:id/restore` (from the request to the full response, in this Node process) against the raw criu command line with the engine\'s very flags (copied from the checkpoint record\'s `command` and the desktop\'s `lastOperation.command`; only the images dir, log file, pidfile and tree pid differ), timed from spawn to exit.', loads, [
      `Two identical desktops (${geometry}, xterm, idle, no viewer): A cycled through the API, B with raw criu, because a raw restore leaves the engine's record of the desktop with a stale pid (B is ended at the end by its raw pidfile, then stopped through the API). The order inside a pair alternates (API first in odd pairs, raw first in even ones). One warm-up cycle of each is not counted. ${pairs} pairs.`,
      '',
      `Dump flags: \`${templates.dump.slice(1).join(' ')}\``,
      `Restore flags: \`${templates.restore.slice(1).join(' ')}\``,
    ]),
    '## Medians',
    '',
    table(['operation', 'API wall (ms)', 'of which criu, engine-timed (ms)', 'raw criu (ms)', 'API / raw', `goal ≤ ${GOAL}`, 'API − criu inside it (ms)'], [
      ['dump', fmt(m('apiDump')), fmt(m('engineDump')), fmt(m('rawDump')), fmtRatio(m('apiDump'), m('rawDump')), dumpRatio <= GOAL ? 'met' : 'missed', fmt(m('apiDump') - m('engineDump'))],
      ['restore', fmt(m('apiRestore')), fmt(m('engineRestore')), fmt(m('rawRestore')), fmtRatio(m('apiRestore'), m('rawRestore')), restoreRatio <= GOAL ? 'met' : 'missed', fmt(m('apiRestore') - m('engineRestore'))],
      ['dump + restore', fmt(m('apiDump') + m('apiRestore')), fmt(m('engineDump') + m('engineRestore')), fmt(m('rawDump') + m('rawRestore')), fmtRatio(m('apiDump') + m('apiRestore'), m('rawDump') + m('rawRestore')), '', ''],
    ]),
    '',
    `Image size: API desktop ${fmt(m('apiBytes') / 1e6, 2)} MB, raw desktop ${fmt(m('rawBytes') / 1e6, 2)} MB (median): the two desktops are alike.`,
    '',
    '## Where the API\'s time goes (medians, ms; from the engine\'s file mtimes and record timestamps, ±1 ms)',
    '',
    table(['dump phase', 'median ms'], Object.keys(results[0].dumpPhases!).map((k) => [k, fmt(median(results.map((r) => r.dumpPhases![k])))])),
    '',
    table(['restore phase', 'median ms'], Object.keys(results[0].restorePhases!).map((k) => [k, fmt(median(results.map((r) => r.restorePhases![k])))])),
    '',
    '## criu\'s own span: its log\'s first to last timestamp (medians, ms)',
    '',
    'What criu took by its own clock, API and raw alike; the rest of "criu in it" (and of raw criu) is its start, its exit and how the caller learns of it.',
    '',
    table(['operation', 'API: criu in it', 'API: criu\'s span', 'raw criu', 'raw: criu\'s span'], (['Dump', 'Restore'] as const).map((op) => [
      op.toLowerCase(), fmt(m(`engine${op}`)), fmt(median(results.map((r) => r.spans![`api${op}`]))), fmt(m(`raw${op}`)), fmt(median(results.map((r) => r.spans![`raw${op}`]))),
    ])),
    '',
    '## Every pair',
    '',
    table(['#', 'first', 'API dump', 'criu in it', 'raw dump', 'API restore', 'criu in it', 'raw restore', 'CRIU frozen, API / raw (ms)', 'memdump+memwrite, API / raw (ms)', 'load 1/5/15'], results.map((r, i) => [i + 1, r.rawFirst ? 'raw' : 'API', fmt(r.apiDump), fmt(r.engineDump), fmt(r.rawDump), fmt(r.apiRestore), fmt(r.engineRestore), fmt(r.rawRestore), `${fmt(r.dumpStats?.frozenMs ?? NaN)} / ${fmt(r.rawDumpStats?.frozenMs ?? NaN)}`, `${fmt((r.dumpStats?.memdumpMs ?? NaN) + (r.dumpStats?.memwriteMs ?? NaN))} / ${fmt((r.rawDumpStats?.memdumpMs ?? NaN) + (r.rawDumpStats?.memwriteMs ?? NaN))}`, r.load])),
    '',
    `CRIU's own stats (stats-dump), medians: frozen ${fmt(median(results.map((r) => r.dumpStats?.frozenMs ?? NaN)))} ms in the API's dumps vs ${fmt(median(results.map((r) => r.rawDumpStats?.frozenMs ?? NaN)))} ms raw; freezing ${fmt(median(results.map((r) => r.dumpStats?.freezingMs ?? NaN)))} vs ${fmt(median(results.map((r) => r.rawDumpStats?.freezingMs ?? NaN)))} ms; memdump + memwrite ${fmt(median(results.map((r) => (r.dumpStats?.memdumpMs ?? NaN) + (r.dumpStats?.memwriteMs ?? NaN))))} vs ${fmt(median(results.map((r) => (r.rawDumpStats?.memdumpMs ?? NaN) + (r.rawDumpStats?.memwriteMs ?? NaN))))} ms.`,
    '',
    loads.markdown(),
    '',
  ].join('\n');
  const svg = barChart('HTTP API vs raw criu (median ms)', 'ms', [
    { name: 'dump', bars: [{ label: 'HTTP API (whole call)', value: m('apiDump') }, { label: 'criu inside the API call', value: m('engineDump') }, { label: 'raw criu', value: m('rawDump') }] },
    { name: 'restore', bars: [{ label: 'HTTP API (whole call)', value: m('apiRestore') }, { label: 'criu inside the API call', value: m('engineRestore') }, { label: 'raw criu', value: m('rawRestore') }] },
  ]);
  writeResults('overhead', md, svg, { results, templates, loads: loads.entries });
  console.log(md);
}

await withCleanup(main, [async () => raw?.end(), async () => server?.stop()]);
