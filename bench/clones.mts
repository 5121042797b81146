// Clones on the engine (issue #12, part 7): Desktops.clone (the function POST /api/checkpoints/:id/clone calls) of
// the default desktop and of a Writer desktop, N = 1 / 4 / 8 at once: the time from the request until every clone's
// picture moves, PSS per clone, and a cold start of the same apps to the same state, in the same run.
// Run as root: node --import tsx --import ./server/runtime/register.js bench/clones.mts [--kinds=default,writer]
//   [--counts=1,4,8] [--rounds=5] [--out=clones-engine]
// Cold starts and single clones alternate (the ratio is taken per pair: the load of a shared machine drifts).
// "Moves": the picture of the app's window, read over VNC inside the desktop's namespace (server/vnc/rfbClient.ts),
// changes: by itself (xclock's second hand, drawn once a second: up to 1 s of the figure is that wait), or at a
// key typed into Writer (its document draws it).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createEngine } from '../server/engine';
import { treePids } from '../server/desktops/processes';
import type { DesktopRecord } from '../server/desktops/records';
import { vncTargetOf } from '../server/desktops/rooms';
import { connectRfb } from '../server/vnc/target';
import type { RfbClient } from '../server/vnc/rfbClient';
import { largestWindow, type Region } from '../test/support/windows';
import { xCommand } from '../test/support/xDisplay';
import { arg, fmt, header, LoadLog, median, numArg, table, writeResults } from './lib/common.mts';
import { appSigns } from './lib/appSigns.mts';

const kinds = arg('kinds', 'default,writer').split(',');
const counts = arg('counts', '1,4,8').split(',').map(Number);
const rounds = numArg('rounds', 5);
const geometry = arg('geometry', '1024x768');
/** What each kind starts, and the app whose window shows that it is up and whose picture shows that it lives. */
const kindApps: Record<string, { apps: string[]; sign: string }> = {
  default: { apps: ['xterm', 'xclock'], sign: 'xclock' },
  writer: { apps: ['writer'], sign: 'writer' },
};

const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-clones-'));
const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_KEY_DIR: path.join(stateDir, 'keys'), FREEZEFRAME_DISPLAYS: arg('displays', '80-95') });
const { desktops } = engine;
const loads = new LoadLog();
const run = promisify(execFile);

/** The app's window on the desktop's :1 (xwininfo in its network namespace), once it shows; polled every 100 ms. */
async function windowOf(d: DesktopRecord, sign: string, timeoutMs = 120_000): Promise<Region> {
  const t0 = performance.now();
  for (;;) {
    const [cmd, args] = xCommand(d, 'xwininfo', ['-root', '-tree']);
    const tree = await run(cmd, args, { timeout: 10_000 }).then((r) => r.stdout, () => '');
    const found = largestWindow(tree, appSigns[sign].name);
    if (found) return found;
    if (performance.now() - t0 > timeoutMs) throw new Error(`no ${sign} window on ${d.id} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** FNV-1a over the region's pixels (B, G, R, X). */
function hashOf(client: RfbClient, r: Region): number {
  let hash = 0x811c9dc5;
  for (let y = Math.max(0, r.y); y < Math.min(client.height, r.y + r.height); y++) {
    for (let x = Math.max(0, r.x); x < Math.min(client.width, r.x + r.width); x++) hash = Math.imul(hash ^ client.pixels!.readUInt32LE((y * client.width + x) * 4), 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Resolves at performance.now() when the region's picture first differs from its first frame: by itself, or after
 * a key typed again every 500 ms (a cold Writer may drop keys typed before its document takes them).
 */
async function movesAt(d: DesktopRecord, sign: string, region: Region, timeoutMs = 120_000): Promise<{ firstFrame: number; moved: number }> {
  const t0 = performance.now();
  let client: RfbClient | undefined;
  for (;;) {
    try {
      client = await connectRfb(vncTargetOf(desktops.paths, d), { password: d.vncPassword, autoRequest: false, keepPixels: true, timeoutMs: 5_000 });
      break;
    } catch (error) {
      if (performance.now() - t0 > timeoutMs) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    await client.capture(10_000);
    const firstFrame = performance.now();
    const before = hashOf(client, region);
    const proof = appSigns[sign].proof;
    let typedAt = 0;
    for (;;) {
      if (proof !== 'moves' && performance.now() - typedAt > 500) {
        client.key(proof.key(1));
        typedAt = performance.now();
      }
      const left = timeoutMs - (performance.now() - t0);
      if (left <= 0) throw new Error(`the picture of ${d.id} did not change within ${timeoutMs} ms`);
      const next = client.nextUpdate(Math.min(left, proof === 'moves' ? left : 500));
      client.requestUpdate(true);
      await next.catch(() => {});
      if (hashOf(client, region) !== before) return { firstFrame, moved: performance.now() };
    }
  } finally {
    await client.closeGracefully();
  }
}

/** Sum of the tree's proportional set sizes, kB: a page shared by k processes counts 1/k in each. */
async function pssKb(rootPid: number): Promise<number> {
  let total = 0;
  for (const pid of await treePids(rootPid)) {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    total += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  }
  return total;
}

async function discard(ids: string[]): Promise<void> {
  for (const id of ids) {
    await desktops.stop(id).catch(() => {});
    await desktops.remove(id).catch((e) => console.warn(`[bench] remove ${id}: ${e}`));
  }
}

const samples: Record<string, number[]> = {};
const note = (key: string, value: number) => {
  (samples[key] ??= []).push(value);
  console.log(`[bench] ${key}: ${fmt(value)}`);
};

/** A cold start: the request until the app's window shows and its picture moves (the state a clone starts in). */
async function coldStart(kind: string): Promise<number> {
  const { apps, sign } = kindApps[kind];
  const t0 = performance.now();
  const d = await desktops.start({ geometry, apps });
  const started = performance.now();
  const region = await windowOf(d, sign);
  const shown = performance.now();
  const { moved } = await movesAt(d, sign, region);
  note(`${kind}: cold start, request → started (API answer) ms`, started - t0);
  note(`${kind}: cold start, request → the app's window shows ms`, shown - t0);
  note(`${kind}: cold start, request → picture moves ms`, moved - t0);
  note(`${kind}: cold start PSS kB`, await pssKb((await desktops.get(d.id)).pid!));
  await discard([d.id]);
  return moved - t0;
}

/** n clones of the checkpoint at once: the request until every clone's picture moves (ms). */
async function clones(kind: string, checkpointId: string, region: Region, n: number): Promise<number> {
  const { sign } = kindApps[kind];
  const t0 = performance.now();
  const cloned = await desktops.clone(checkpointId, { count: n });
  const answered = performance.now();
  if (cloned.failed.length) throw new Error(`${cloned.failed.length} of ${n} clones failed: ${cloned.failed[0].error.message}`);
  // The window is where it was at the dump: the template's region, no xwininfo on the clock.
  const moves = await Promise.all(cloned.desktops.map((d) => movesAt(d, sign, region)));
  const allMoved = Math.max(...moves.map((m) => m.moved));
  note(`${kind} × ${n}: request → clone answers ms`, answered - t0);
  note(`${kind} × ${n}: request → every clone's first frame ms`, Math.max(...moves.map((m) => m.firstFrame)) - t0);
  note(`${kind} × ${n}: request → every clone's picture moves ms`, allMoved - t0);
  // criu's own part: each clone's restore as the engine timed it (criu started → its verdict).
  for (const d of cloned.desktops) note(`${kind} × ${n}: each clone's criu restore ms`, d.lastOperation?.ms ?? NaN);
  for (const d of cloned.desktops) note(`${kind} × ${n}: PSS per clone kB`, await pssKb((await desktops.get(d.id)).pid!));
  await discard(cloned.desktops.map((d) => d.id));
  return allMoved - t0;
}

try {
  loads.note('start');
  for (const kind of kinds) {
    const { apps, sign } = kindApps[kind];
    // The template: the same apps, up and moving, checkpointed (the tree stops).
    const template = await desktops.start({ geometry, apps });
    const region = await windowOf(template, sign);
    await movesAt(template, sign, region);
    const { checkpoint } = await desktops.checkpoint(template.id);
    note(`${kind}: template dump ms`, checkpoint.dumpMs ?? NaN);
    note(`${kind}: template image MB`, (checkpoint.imageBytes ?? NaN) / 1e6);
    // A cold start and one clone in pairs, in turn first: the machine is shared, its load changes by the minute,
    // and a pair sees about the same load; the ratio is taken per pair.
    for (let r = 0; r < rounds; r++) {
      const [cold, one] = r % 2
        ? await clones(kind, checkpoint.id, region, 1).then(async (c) => [await coldStart(kind), c])
        : await coldStart(kind).then(async (c) => [c, await clones(kind, checkpoint.id, region, 1)]);
      note(`${kind}: cold start ÷ 1 clone, per pair (×)`, cold / one);
    }
    loads.note(`${kind}: cold starts and single clones done`);
    for (const n of counts.filter((c) => c > 1)) {
      for (let r = 0; r < rounds; r++) await clones(kind, checkpoint.id, region, n);
      loads.note(`${kind}: ${n} clones done`);
    }
    await discard([template.id]);
  }
} finally {
  for (const d of await desktops.list()) await discard([d.id]);
  await rm(stateDir, { recursive: true, force: true });
}

const rows = Object.entries(samples).map(([key, xs]) => [key, fmt(median(xs)), fmt(Math.min(...xs)), fmt(Math.max(...xs)), xs.map((x) => fmt(x, 0)).join(' ')]);
const med = (key: string) => median(samples[key] ?? []);
const goals: (string | number)[][] = [];
if (samples['writer × 8: request → every clone\'s picture moves ms']) {
  const t = med('writer × 8: request → every clone\'s picture moves ms');
  goals.push(['8 Writer clones all moving within 2 s', `${fmt(t / 1000, 2)} s (median of ${rounds})`, t <= 2000 ? 'met' : 'missed']);
}
if (samples['writer: cold start ÷ 1 clone, per pair (×)']) {
  const xs = samples['writer: cold start ÷ 1 clone, per pair (×)'];
  const x = median(xs);
  goals.push(['a Writer clone ≥ 10× faster than a cold start of Writer', `${fmt(x, 1)}× (median of ${xs.length} pairs, ${fmt(Math.min(...xs), 1)}-${fmt(Math.max(...xs), 1)})`, x >= 10 ? 'met' : 'missed']);
}
const md = [
  header('Clones on the engine (issue #12)', 'Desktops.clone of one checkpoint, N at once, against a cold start of the same apps to the same state (window up, picture moving), in the same run. PSS: summed over each tree from /proc/PID/smaps_rollup.', loads, [`${rounds} rounds per count (the single clones in pairs with as many cold starts), geometry ${geometry}.`]),
  '## Goals', '', table(['goal', 'measured', ''], goals), '',
  '## Every figure', '', table(['measure', 'median', 'min', 'max', 'samples'], rows), '',
  loads.markdown(), '',
].join('\n');
writeResults(arg('out', 'clones-engine'), md, undefined, { samples, load: loads.entries });
console.log(md);
process.exit(0);
