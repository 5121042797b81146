// The long soak: checkpoint/restore cycles of the default desktop with a viewer connected, for N cycles or M minutes,
// its retention policy keeping the last K checkpoints (nothing else removes one); failures, leaks (iptables rules,
// X locks, fds, mounts, zombies), dump/restore medians, and the disk and this process's RSS (the engine runs
// in it, as in the server) over time, as markdown.
// usage: node --import tsx --import ./server/runtime/register.js bench/soak.mts [--cycles=100 | --minutes=60]
//        [--keep-last=5] [--freeze-ms=3000 --run-ms=3000 (the presenter's auto-cycle)] [--displays=96-99]
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine } from '../server/engine';
import { soak, type SoakSample } from '../test/support/soak';
import { arg, numArg } from './lib/common.mts';

const minutes = numArg('minutes', 0);
const cycles = minutes ? Infinity : numArg('cycles', 100);
const keepLast = numArg('keep-last', 5);
const freezeMs = numArg('freeze-ms', 0);
const runMs = numArg('run-ms', 0);
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-soak-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_KEY_DIR: path.join(stateDir, 'keys'), FREEZEFRAME_DISPLAYS: arg('displays', '96-99') });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mb = (n: number) => (n / 1024 ** 2).toFixed(1);
const started = Date.now();
try {
  const r = await soak(engine, {
    cycles, durationMs: minutes ? minutes * 60_000 : Infinity, keepLast, freezeMs, runMs,
    onCycle: (s) => s.cycle % 10 === 0 && process.stderr.write(`cycle ${s.cycle}, ${(s.atMs / 1000).toFixed(0)} s: disk ${mb(s.diskBytes)} MB, ${s.checkpoints} checkpoints, RSS ${mb(s.rssBytes)} MB\n`),
  });
  const leaked = Object.entries(r.after).filter(([k, v]) => v !== r.before[k as keyof typeof r.before]);
  // About twelve rows, evenly spread over the run, the first and last included.
  const step = Math.max(1, Math.floor(r.samples.length / 12));
  const rows = r.samples.filter((s, i) => i % step === 0 || i === r.samples.length - 1);
  const range = (xs: number[]) => `${mb(Math.min(...xs))}–${mb(Math.max(...xs))} MB`;
  const lastHalf = r.samples.slice(Math.floor(r.samples.length / 2));
  const lines = [
    `# Soak: ${r.cycles} checkpoint/restore cycles with a viewer connected${minutes ? ` (${minutes} min)` : ''}`,
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model}, kernel ${os.release()}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s in all. Retention: keep the last ${keepLast}; frozen ${freezeMs} ms and running ${runMs} ms per cycle.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| cycles / failures | ${r.cycles} / ${r.failures} |`,
    `| dump median (min–max) | ${median(r.dumpMs).toFixed(0)} ms (${Math.min(...r.dumpMs).toFixed(0)}–${Math.max(...r.dumpMs).toFixed(0)}) |`,
    `| restore median (min–max) | ${median(r.restoreMs).toFixed(0)} ms (${Math.min(...r.restoreMs).toFixed(0)}–${Math.max(...r.restoreMs).toFixed(0)}) |`,
    `| checkpoints folder, whole run / second half | ${range(r.samples.map((s) => s.diskBytes))} / ${range(lastHalf.map((s) => s.diskBytes))} |`,
    `| RSS, whole run / second half | ${range(r.samples.map((s) => s.rssBytes))} / ${range(lastHalf.map((s) => s.rssBytes))} |`,
    ...Object.keys(r.before).map((k) => `| ${k} before → after | ${r.before[k as keyof typeof r.before]} → ${r.after[k as keyof typeof r.after]} |`),
    '',
    leaked.length ? `LEAKED: ${leaked.map(([k]) => k).join(', ')}` : 'Nothing leaked.',
    '',
    '## Disk and memory over time',
    '',
    '| cycle | time (s) | checkpoints | checkpoints folder (MB) | RSS (MB) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((s: SoakSample) => `| ${s.cycle} | ${(s.atMs / 1000).toFixed(0)} | ${s.checkpoints} | ${mb(s.diskBytes)} | ${mb(s.rssBytes)} |`),
    '',
  ];
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/soak.md', lines.join('\n'));
  await writeFile('bench/results/soak.json', JSON.stringify(r, null, 1));
  process.stdout.write(lines.join('\n'));
  process.exitCode = r.failures || leaked.length ? 1 : 0;
} finally {
  for (const d of await engine.desktops.list()) if (d.state !== 'stopped') await engine.desktops.stop(d.id).catch(() => {});
  await rm(stateDir, { recursive: true, force: true });
}
