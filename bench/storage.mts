// Checkpoint storage of the default desktop (1024x768, xterm + xclock): the disk 1..N checkpoints take with the
// default storage (pages shared with a base but for the newest, packed, logs packed: server/storage/) and without
// any of it (FREEZEFRAME_SHARE_PAGES=0, logs still packed), what one checkpoint's folder holds file by file, restore
// times of the newest (whole) against the whole engine's, and of older shared checkpoints, cycles of the two engines
// alternating in one run; an export's size.
// usage: node --import tsx --import ./server/runtime/register.js bench/storage.mts [--cycles=20] [--older=6] [--right-after=6]
import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine, type Engine } from '../server/engine';
import type { DesktopRecord } from '../server/desktops/records';
import { vncTargetOf } from '../server/desktops/rooms';
import { diskBytes } from '../server/storage/checkpointFiles';
import { connectRfb } from '../server/vnc/target';
import { fmt, header, LoadLog, median, numArg, quantile, table, writeResults } from './lib/common.mts';

const cycles = numArg('cycles', 20);
const older = numArg('older', 6);
const rightAfter = numArg('right-after', 6);
const mb = (n: number) => fmt(n / 1024 ** 2, 2);
const kb = (n: number) => fmt(n / 1024, 1);
const loads = new LoadLog();

async function engineFor(label: string, displays: string, sharePages: boolean): Promise<{ label: string; engine: Engine; stateDir: string }> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `freezeframe-storage-${label}-`));
  const engine = await createEngine({
    ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_KEY_DIR: path.join(stateDir, 'keys'),
    FREEZEFRAME_DISPLAYS: displays, FREEZEFRAME_SHARE_PAGES: sharePages ? '1' : '0',
  });
  return { label, engine, stateDir };
}

/** The desktop drawn and its clock ticking: two frames to a viewer (a dump right after the start holds a desktop half made). */
async function settled(engine: Engine, desktop: DesktopRecord): Promise<void> {
  const client = await connectRfb(vncTargetOf(engine.desktops.paths, desktop), { password: desktop.vncPassword });
  try {
    await client.nextUpdate(15_000);
    await client.nextUpdate(15_000);
  } finally {
    client.close();
  }
}

/** Bytes of one checkpoint's folder by kind of file (stored bytes, as diskBytes counts them). */
async function breakdown(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (at: string, rel: string): Promise<void> => {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const full = path.join(at, e.name);
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(full, name);
      else if (e.isFile()) {
        const s = await lstat(full);
        const kind = /^images\/pages-/.test(name) ? 'images/pages-*.img (its own pages)'
          : /^packed\//.test(name) ? 'packed/pages-*.img.gz (its own pages, gzipped)'
          : /^images\/tmpfs-/.test(name) ? 'images/tmpfs-*.tar.gz.img (/tmp)'
          : /^images\//.test(name) ? (s.nlink > 1 ? 'images/ other, hard-linked to the base\'s' : 'images/ other (core, mm, files...)')
          : /^home-base\//.test(name) ? 'home-base/'
          : name.replace(/-\d+/, '-N');
        out.set(kind, (out.get(kind) ?? 0) + Math.min(s.size, s.blocks * 512));
      }
    }
  };
  await walk(dir, '');
  return out;
}

const variants = [await engineFor('sharing', '150-152', true), await engineFor('whole', '153-155', false)];
type Figures = { disk: number[]; restoreMs: number[]; restoreCallMs: number[]; followUpMs: number[]; imageBytes: number[]; olderMs: number[]; olderCallMs: number[]; rightAfterMs: number[] };
const results: Record<string, Figures> = {};
let exportRow: (string | number)[] = [];
let perFile: { kind: string; shared: number; newest: number }[] = [];
let duKb = { sharing: 0, whole: 0 };
let olderIds: string[] = [];
try {
  const desktops: DesktopRecord[] = [];
  for (const v of variants) {
    const desktop = await v.engine.desktops.start({});
    await settled(v.engine, desktop);
    desktops.push(desktop);
    results[v.label] = { disk: [], restoreMs: [], restoreCallMs: [], followUpMs: [], imageBytes: [], olderMs: [], olderCallMs: [], rightAfterMs: [] };
  }
  loads.note('start');
  const pairs = variants.map((v, i) => [v, desktops[i]] as const);
  for (let n = 1; n <= cycles; n++) {
    // Alternating which goes first: the shared machine's load changes from cycle to cycle.
    for (const [v, desktop] of n % 2 ? pairs : [...pairs].reverse()) {
      const r = results[v.label];
      const t0 = performance.now();
      const { checkpoint } = await v.engine.desktops.checkpoint(desktop.id);
      // The call waits for the follow-up here (no replyFirst): what it adds to criu's dump.
      r.followUpMs.push(performance.now() - t0 - (checkpoint.dumpMs ?? 0));
      r.imageBytes.push(checkpoint.imageBytes!);
      r.disk.push(await diskBytes(v.engine.desktops.paths.checkpoints()));
      // The newest: the one the Restore button and the auto-cycle bring back.
      const t1 = performance.now();
      r.restoreMs.push((await v.engine.desktops.restore(checkpoint.id)).restoreMs);
      r.restoreCallMs.push(performance.now() - t1);
    }
    if (n === 1 || n % 5 === 0) loads.note(`cycle ${n}`);
    process.stderr.write(`cycle ${n}/${cycles}: sharing ${mb(results.sharing.disk.at(-1)!)} MB, whole ${mb(results.whole.disk.at(-1)!)} MB\n`);
  }
  for (const v of variants) {
    duKb[v.label as 'sharing' | 'whole'] = Number(execFileSync('du', ['-sk', v.engine.desktops.paths.checkpoints()], { encoding: 'utf8' }).split('\t')[0]);
  }
  // One shared checkpoint's folder and the newest's, file by file (before any of them is restored again).
  const sharing = variants[0];
  const mine = await sharing.engine.desktops.checkpoints(desktops[0].id);
  const sharedOne = mine.filter((c) => c.base).at(-1)!;
  const newest = mine.at(-1)!;
  const [a, b] = await Promise.all([breakdown(sharing.engine.desktops.paths.checkpointDir(sharedOne.id)), breakdown(sharing.engine.desktops.paths.checkpointDir(newest.id))]);
  perFile = [...new Set([...a.keys(), ...b.keys()])].map((kind) => ({ kind, shared: a.get(kind) ?? 0, newest: b.get(kind) ?? 0 })).sort((x, y) => y.shared + y.newest - x.shared - x.newest);

  // Older checkpoints (the 2nd, 3rd...): shared and packed on the sharing engine, whole on the other; alternating.
  const lists = await Promise.all(variants.map((v, i) => v.engine.desktops.checkpoints(desktops[i].id)));
  olderIds = lists[0].slice(1, 1 + older).map((c) => `${c.id}${c.base ? ` (base ${c.base})` : ''}`);
  for (let i = 1; i <= older && i < cycles - 1; i++) {
    for (const [k, v] of (i % 2 ? [0, 1] : [1, 0]).map((k) => [k, variants[k]] as const)) {
      const r = results[v.label];
      const t1 = performance.now();
      r.olderMs.push((await v.engine.desktops.restore(lists[k][i].id, { stopRunning: true })).restoreMs);
      r.olderCallMs.push(performance.now() - t1);
    }
  }
  loads.note('older restores');

  // Restore clicked right after Checkpoint: the API's checkpoint (replyFirst: the follow-up after the reply), then
  // at once a restore of it, which waits for the follow-up's lock (the sharing stops for it, once).
  for (let i = 1; i <= rightAfter; i++) {
    for (const [k, v] of (i % 2 ? [0, 1] : [1, 0]).map((k) => [k, variants[k]] as const)) {
      const r = results[v.label];
      await v.engine.desktops.restore((await v.engine.desktops.checkpoints(desktops[k].id)).at(-1)!.id, { stopRunning: true });
      await v.engine.desktops.checkpoint(desktops[k].id, { leaveRunning: true });
      const { checkpoint } = await v.engine.desktops.checkpoint(desktops[k].id, { replyFirst: true });
      const t1 = performance.now();
      await v.engine.desktops.restore(checkpoint.id);
      r.rightAfterMs.push(performance.now() - t1);
    }
  }
  loads.note('restores right after a checkpoint');

  // An older shared checkpoint as an archive: made whole again.
  const shared = lists[0].find((c) => c.base && c.id !== lists[0][1].id) ?? lists[0][2];
  const file = path.join(sharing.stateDir, 'export.tar.zst');
  const t0 = performance.now();
  const exported = await sharing.engine.desktops.exportCheckpoint(shared.id, file);
  exportRow = [shared.id, mb(shared.imageBytes!), mb(shared.storedBytes!), mb(exported.bytes), fmt(exported.bytes / shared.imageBytes!, 3), fmt(performance.now() - t0, 0)];
} finally {
  for (const v of variants) {
    for (const d of await v.engine.desktops.list()) if (d.state !== 'stopped') await v.engine.desktops.stop(d.id).catch(() => {});
    await rm(v.stateDir, { recursive: true, force: true });
  }
}

const s = results.sharing;
const w = results.whole;
const rows = [1, 2, 3, 5, 10, 20, cycles].filter((n, i, a) => n <= cycles && a.indexOf(n) === i).map((n) => [
  n, mb(w.disk[n - 1]), mb(s.disk[n - 1]), fmt(s.disk[n - 1] / s.disk[0], 2) + '×', fmt(w.disk[n - 1] / w.disk[0], 2) + '×',
]);
const stat = (xs: number[]) => [fmt(median(xs), 0), fmt(quantile(xs, 0.1), 0), fmt(quantile(xs, 0.9), 0)];
const md = [
  header('Storage: 20 checkpoints of the default desktop, and restore speed', `${cycles} checkpoint + restore cycles of the default desktop (1024x768, xterm + xclock, its picture moving before the first dump) on two engines: the default (pages shared with a base once a newer checkpoint exists, the newest whole; a shared one's own pages gzipped; criu's logs gzipped; the desktop log's copy a 64 KiB tail) and one with FREEZEFRAME_SHARE_PAGES=0 (every checkpoint whole; its logs packed too). Each cycle restores the checkpoint just made (the newest), engines alternating; every checkpoint kept (no retention policy). Then ${older} older checkpoints restored on each engine, alternating.`, loads),
  '## Disk taken by the checkpoints folder (MB; N× the first checkpoint)',
  '',
  'Stored bytes as server/storage/checkpointFiles.ts diskBytes counts them: a file with several names by its share (their sum: once), a sparse file by its blocks.',
  '',
  table(['checkpoints', 'whole engine', 'default engine', 'default / one', 'whole / one'], rows),
  '',
  `\`du -sk\` of the folders after ${cycles}: default ${fmt(duKb.sharing / 1024, 1)} MiB, whole ${fmt(duKb.whole / 1024, 1)} MiB (du counts whole 4 KiB blocks: ~100 small images a checkpoint).`,
  '',
  `Images criu wrote per checkpoint (median): ${mb(median(s.imageBytes))} MB.`,
  '',
  '## One checkpoint\'s folder, file by file (default engine, after the last cycle; KB)',
  '',
  table(['file', 'an older shared one', 'the newest (whole)'], perFile.map((f) => [f.kind, kb(f.shared), kb(f.newest)])),
  '',
  '## Restore of the newest (ms; criu restore as the engine times it, and the whole restore call)',
  '',
  table(['engine', 'criu median', 'p10', 'p90', 'call median', 'call p10', 'call p90', 'criu ratio'], [
    ['whole', ...stat(w.restoreMs), ...stat(w.restoreCallMs), '1.00×'],
    ['default (newest whole)', ...stat(s.restoreMs), ...stat(s.restoreCallMs), fmt(median(s.restoreMs) / median(w.restoreMs), 2) + '×'],
  ]),
  '',
  `## Restore of an older checkpoint (${s.olderMs.length} each: ${olderIds.join(', ')}; ms)`,
  '',
  'The default engine\'s are shared (criu reads its base too) and packed (gunzipped into its images first, in the call).',
  '',
  table(['engine', 'criu median', 'p10', 'p90', 'call median', 'call p10', 'call p90', 'criu ratio', 'call ratio'], [
    ['whole', ...stat(w.olderMs), ...stat(w.olderCallMs), '1.00×', '1.00×'],
    ['default (shared, packed)', ...stat(s.olderMs), ...stat(s.olderCallMs), fmt(median(s.olderMs) / median(w.olderMs), 2) + '×', fmt(median(s.olderCallMs) / median(w.olderCallMs), 2) + '×'],
  ]),
  '',
  `## Restore asked right after a checkpoint (${s.rightAfterMs.length} each; ms, the whole call)`,
  '',
  'The checkpoint as the API makes it (the reply before the follow-up), then at once a restore of it: it waits for the follow-up (home copy, tidying) under the desktop\'s lock; on the default engine the tidying stops its page work for it (the previous checkpoint is shared at the next tidying). Each pair after a snapshot, so that there is a previous checkpoint to share.',
  '',
  table(['engine', 'median', 'p10', 'p90', 'ratio'], [
    ['whole', ...stat(w.rightAfterMs), '1.00×'],
    ['default', ...stat(s.rightAfterMs), fmt(median(s.rightAfterMs) / median(w.rightAfterMs), 2) + '×'],
  ]),
  '',
  `Checkpoint call minus criu's dump (records, thumbnail, home copy, and the follow-up: sharing the previous checkpoint's pages, packing, logs), median: whole ${fmt(median(w.followUpMs), 0)} ms, default ${fmt(median(s.followUpMs), 0)} ms. The server's API hands the checkpoint back before the follow-up (replyFirst); a restore asked meanwhile waits for it.`,
  '',
  '## Export of an older shared checkpoint (zstd -3, images made whole)',
  '',
  table(['checkpoint', 'images MB', 'on disk MB', 'archive MB', 'archive / images', 'export ms'], [exportRow]),
  '',
  loads.markdown(),
  '',
].join('\n');
writeResults('storage', md, undefined, { cycles, results, exportRow, perFile, duKb });
process.stdout.write(md);
