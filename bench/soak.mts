// The long soak: N (default 100) checkpoint/restore cycles of the default desktop with a viewer connected;
// failures, leaks (iptables rules, X locks, fds, mounts, zombies) and dump/restore medians, as markdown.
// usage: node --import tsx --import ./server/runtime/register.js bench/soak.mts [cycles]
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine } from '../server/engine';
import { soak } from '../test/support/soak';

const cycles = Number(process.argv[2] ?? 100);
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-soak-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_DISPLAYS: '96-99' });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const started = Date.now();
try {
  const r = await soak(engine, cycles, (n) => n % 10 === 0 && process.stderr.write(`cycle ${n}/${cycles}\n`));
  const leaked = Object.entries(r.after).filter(([k, v]) => v !== r.before[k as keyof typeof r.before]);
  const lines = [
    `# Soak: ${cycles} checkpoint/restore cycles with a viewer connected`,
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model}, kernel ${os.release()}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s in all.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| cycles / failures | ${r.cycles} / ${r.failures} |`,
    `| dump median (min–max) | ${median(r.dumpMs).toFixed(0)} ms (${Math.min(...r.dumpMs).toFixed(0)}–${Math.max(...r.dumpMs).toFixed(0)}) |`,
    `| restore median (min–max) | ${median(r.restoreMs).toFixed(0)} ms (${Math.min(...r.restoreMs).toFixed(0)}–${Math.max(...r.restoreMs).toFixed(0)}) |`,
    ...Object.keys(r.before).map((k) => `| ${k} before → after | ${r.before[k as keyof typeof r.before]} → ${r.after[k as keyof typeof r.after]} |`),
    '',
    leaked.length ? `LEAKED: ${leaked.map(([k]) => k).join(', ')}` : 'Nothing leaked.',
    '',
  ];
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/soak.md', lines.join('\n'));
  process.stdout.write(lines.join('\n'));
  process.exitCode = r.failures || leaked.length ? 1 : 0;
} finally {
  for (const d of await engine.desktops.list()) if (d.state !== 'stopped') await engine.desktops.stop(d.id).catch(() => {});
  await rm(stateDir, { recursive: true, force: true });
}
