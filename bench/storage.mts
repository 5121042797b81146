// Checkpoint storage of the default desktop (1024x768, xterm + xclock): the disk 1 vs N checkpoints take with pages
// shared (server/storage/dedup.ts) and without, an export's size against its images, and restore times of shared
// vs whole images, cycles of the two engines alternating in one run.
// usage: node --import tsx --import ./server/runtime/register.js bench/storage.mts [--cycles=20]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine, type Engine } from '../server/engine';
import { diskBytes } from '../server/storage/checkpointFiles';
import { fmt, header, LoadLog, median, numArg, quantile, table, writeResults } from './lib/common.mts';

const cycles = numArg('cycles', 20);
const mb = (n: number) => fmt(n / 1024 ** 2, 1);
const loads = new LoadLog();

async function engineFor(label: string, displays: string, sharePages: boolean): Promise<{ label: string; engine: Engine; stateDir: string }> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `freezeframe-storage-${label}-`));
  const engine = await createEngine({
    ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_KEY_DIR: path.join(stateDir, 'keys'),
    FREEZEFRAME_DISPLAYS: displays, FREEZEFRAME_SHARE_PAGES: sharePages ? '1' : '0',
  });
  return { label, engine, stateDir };
}

const variants = [await engineFor('shared', '240-242', true), await engineFor('whole', '243-245', false)];
const results: Record<string, { disk: number[]; restoreMs: number[]; tidyMs: number[]; imageBytes: number[] }> = {};
let exportRow: (string | number)[] = [];
try {
  const desktops = await Promise.all(variants.map((v) => v.engine.desktops.start({})));
  for (const v of variants) results[v.label] = { disk: [], restoreMs: [], tidyMs: [], imageBytes: [] };
  for (let n = 1; n <= cycles; n++) {
    // Alternating which goes first: the shared machine's load changes from cycle to cycle.
    const order = n % 2 ? variants.map((v, i) => [v, desktops[i]] as const) : variants.map((v, i) => [v, desktops[i]] as const).reverse();
    for (const [v, desktop] of order) {
      const r = results[v.label];
      const t0 = performance.now();
      const { checkpoint } = await v.engine.desktops.checkpoint(desktop.id);
      r.tidyMs.push(performance.now() - t0 - (checkpoint.dumpMs ?? 0));
      r.imageBytes.push(checkpoint.imageBytes!);
      r.disk.push(await diskBytes(v.engine.desktops.paths.checkpoints()));
      r.restoreMs.push((await v.engine.desktops.restore(checkpoint.id)).restoreMs);
    }
    if (n === 1 || n % 5 === 0) loads.note(`cycle ${n}`);
    process.stderr.write(`cycle ${n}/${cycles}: shared ${mb(results.shared.disk.at(-1)!)} MB, whole ${mb(results.whole.disk.at(-1)!)} MB\n`);
  }
  // The newest shared checkpoint as an archive.
  const shared = variants[0];
  const newest = (await shared.engine.desktops.checkpoints(desktops[0].id)).at(-1)!;
  const file = path.join(shared.stateDir, 'export.tar.zst');
  const t0 = performance.now();
  const exported = await shared.engine.desktops.exportCheckpoint(newest.id, file);
  const exportMs = performance.now() - t0;
  exportRow = [newest.id, mb(newest.imageBytes!), mb(newest.storedBytes!), mb(exported.bytes), fmt(exported.bytes / newest.imageBytes!, 3), fmt(exportMs, 0)];
} finally {
  for (const v of variants) {
    for (const d of await v.engine.desktops.list()) if (d.state !== 'stopped') await v.engine.desktops.stop(d.id).catch(() => {});
    await rm(v.stateDir, { recursive: true, force: true });
  }
}

const s = results.shared;
const w = results.whole;
const rows = [1, 2, 5, 10, 20, cycles].filter((n, i, a) => n <= cycles && a.indexOf(n) === i).map((n) => [
  n, mb(w.disk[n - 1]), mb(s.disk[n - 1]), fmt(s.disk[n - 1] / s.disk[0], 2) + '×', fmt(w.disk[n - 1] / w.disk[0], 2) + '×',
]);
const md = [
  header('Storage: checkpoints that share pages, and zstd exports', `${cycles} checkpoint + restore cycles of the default desktop (1024x768, xterm + xclock) on two engines, one sharing pages (server/storage/dedup.ts), one not (FREEZEFRAME_SHARE_PAGES=0), cycles alternating; every checkpoint kept (no retention policy).`, loads),
  '## Disk taken by the checkpoints folder (MB; N× the first checkpoint)',
  '',
  table(['checkpoints', 'whole', 'shared', 'shared / one', 'whole / one'], rows),
  '',
  `Images criu wrote per checkpoint (median): ${mb(median(s.imageBytes))} MB. A checkpoint's folder also holds its dump log (criu -v4), restore logs, thumbnail and the desktop's log.`,
  '',
  '## Restore (ms, criu restore as the engine times it)',
  '',
  table(['images', 'median', 'p10', 'p90', 'ratio'], [
    ['whole', fmt(median(w.restoreMs), 0), fmt(quantile(w.restoreMs, 0.1), 0), fmt(quantile(w.restoreMs, 0.9), 0), '1.00×'],
    ['shared (pages read from the base)', fmt(median(s.restoreMs), 0), fmt(quantile(s.restoreMs, 0.1), 0), fmt(quantile(s.restoreMs, 0.9), 0), fmt(median(s.restoreMs) / median(w.restoreMs), 2) + '×'],
  ]),
  '',
  `Checkpoint call minus criu's dump (records, thumbnail, and for the shared engine the page sharing), median: whole ${fmt(median(w.tidyMs), 0)} ms, shared ${fmt(median(s.tidyMs), 0)} ms.`,
  '',
  '## Export of the newest shared checkpoint (zstd -3, images made whole)',
  '',
  table(['checkpoint', 'images MB', 'on disk MB', 'archive MB', 'archive / images', 'export ms'], [exportRow]),
  '',
  loads.markdown(),
  '',
].join('\n');
writeResults('storage', md, undefined, { cycles, results, exportRow });
process.stdout.write(md);
