// The CLI's own cost: `freezeframe list` (no criu, one stopped desktop on record), called as scripts call it,
// through the compiled CLI (bin/freezeframe.js), through tsx (how it ran before: TypeScript compiled per call),
// and through npx. Calls alternate between the variants, so load hits all of them alike.
// usage: node --import tsx bench/cli.mts [--runs=30] [--out=cli]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmt, header, LoadLog, median, numArg, quantile, root, table, writeResults } from './lib/common.mts';

const runs = numArg('runs', 30);
const goalMs = 150;
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'freezeframe-cli-bench-'));
// One stopped desktop, as a record: list reads it and checks its (absent) processes.
const at = new Date().toISOString();
mkdirSync(path.join(stateDir, 'desktops/d-0000beef'), { recursive: true });
writeFileSync(path.join(stateDir, 'desktops/d-0000beef/desktop.json'), JSON.stringify({ id: 'd-0000beef', display: 90, vncPort: 5990, geometry: '800x600', apps: ['xterm'], vncPassword: 'abcdefgh', state: 'stopped', createdAt: at, updatedAt: at }));
const env = { ...process.env, FREEZEFRAME_STATE_DIR: stateDir };

const variants: Record<string, string[]> = {
  compiled: [path.join(root, 'bin/freezeframe.js'), 'list'],
  tsx: [process.execPath, '--import', 'tsx', '--import', './server/runtime/register.js', 'server/cli.ts', 'list'],
  npx: ['npx', 'freezeframe', 'list'],
};
// Built before the first timed call (scripts/install.sh does so too).
execFileSync(process.execPath, [path.join(root, 'scripts/build-cli.mjs')], { cwd: root, stdio: 'inherit' });

const loads = new LoadLog();
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]));
loads.note('start');
try {
  for (let i = 0; i < runs; i++) {
    for (const [name, [file, ...args]] of Object.entries(variants)) {
      const t0 = performance.now();
      const r = spawnSync(file, args, { cwd: root, env, encoding: 'utf8' });
      const ms = performance.now() - t0;
      if (r.status !== 0 || !JSON.parse(r.stdout).some((d: { id: string }) => d.id === 'd-0000beef')) throw new Error(`${name}: ${r.stdout}${r.stderr}`);
      times[name].push(ms);
    }
  }
} finally {
  loads.note('end');
  rmSync(stateDir, { recursive: true, force: true });
}

const rows = Object.entries(times).map(([name, t]) => [name, `\`${variants[name].map((a) => path.basename(a)).join(' ')}\``, fmt(median(t), 0), fmt(quantile(t, 0.1), 0), fmt(quantile(t, 0.9), 0)]);
const markdown = [
  header('CLI: `freezeframe list`', `Wall time of one call, process start to exit, ${runs} calls per variant, alternating. Goal: compiled ≤ ${goalMs} ms median.`, loads),
  table(['variant', 'command', 'median ms', 'p10 ms', 'p90 ms'], rows),
  '',
  loads.markdown(),
  '',
].join('\n');
console.log(markdown);
writeResults('cli', markdown, undefined, { runs, goalMs, times });
