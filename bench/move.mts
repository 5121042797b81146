// Moving a running desktop to another host (issue #14 part 6): downtime (the move asked -> the picture on the
// target) and bytes sent, for the default desktop and for Firefox, per move method, against export + copy +
// import + restore by hand in the same run. Two test hosts (network namespaces, test/support/testHosts.ts).
// Run as root after `npx next build`:
//   node --import tsx --import ./server/runtime/register.js bench/move.mts --rounds=3 --apps=default,firefox --methods=copy,page-server,lazy
// lazy (post-copy): bytes sent are the archive's plus the pages the target's lazy-pages daemon fetched afterwards;
// "last page" is from the move asked to the target's record leaving `fetching` (polled every 20 ms), "window" from
// the move's answer to then: how long the desktop still needed its source.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { trustKey } from '../server/checkpoints/keys';
import { eventually } from '../test/support/eventually';
import { api, HostViewer, makeFleet, type FleetHost } from '../test/support/fleetHosts';
import { appSigns } from './lib/appSigns.mts';
import { arg, fmt, load, LoadLog, machine, median, numArg, resultsDir } from './lib/common.mts';

const rounds = numArg('rounds', 3);
const apps = arg('apps', 'default,firefox').split(',');
const methods = arg('methods', 'copy').split(',');
const subnet = numArg('subnet', 171);
const port = numArg('port', 3571);
// Host n gets displays base+4n .. base+4n+3 (another session's range avoided with --display-base).
const displayBase = numArg('display-base', 200);
const out = arg('out', 'move');
// zstd's level for a move's archive (the source's FREEZEFRAME_MOVE_ZSTD_LEVEL); unset: the server's default.
const zstdLevel = arg('zstd-level', '');
const loadLog = new LoadLog();

type Row = { app: string; method: string; downtimeMs: number; movingMs: number; serverFrozenMs?: number; dumpMs?: number; restoreMs?: number; bytes: number; load: string; phases?: unknown; lastPageMs?: number; windowMs?: number; fetchMs?: number; fetchedPages?: number };

/** A lazy move's end on the target: the record leaves `fetching`; the daemon's own figures from the checkpoint. */
async function lastPage(host: FleetHost, id: string, checkpoint: string, t0: number): Promise<{ at: number; ms?: number; pages?: number }> {
  for (;;) {
    const { body } = await api<{ desktop: { fetching?: unknown; state: string } }>(host, 'GET', `/api/desktops/${id}`);
    if (!body.desktop.fetching) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const at = performance.now() - t0;
  const { body } = await api<{ checkpoint: { restores: { lazy?: { ms?: number; copiedPages?: number; ok?: boolean; errors?: string[] } }[] } }>(host, 'GET', `/api/checkpoints/${checkpoint}`);
  const lazy = body.checkpoint.restores.at(-1)?.lazy;
  if (!lazy?.ok) throw new Error(`the lazy pages did not all come: ${JSON.stringify(lazy)}`);
  return { at, ms: lazy.ms, pages: lazy.copiedPages };
}
const rows: Row[] = [];
const failures: { app: string; method: string; error: string; target: string; load: string }[] = [];

/** The app's window is up in the desktop (xwininfo in its namespaces), so a move carries a settled app. */
async function appUp(host: FleetHost, id: string, app: string): Promise<void> {
  const names = app === 'default' ? ['xclock', 'xterm'] : [app];
  await eventually(async () => {
    const { body } = await api<{ desktop: { pid: number } }>(host, 'GET', `/api/desktops/${id}`);
    const { stdout } = await execa('nsenter', ['-t', String(body.desktop.pid), '-n', '-m', 'xwininfo', '-root', '-tree', '-display', ':1'], { timeout: 10_000 });
    for (const name of names) if (!appSigns[name].window.test(stdout)) throw new Error(`no ${name} window yet`);
  }, 180_000);
}

async function startOn(host: FleetHost, app: string): Promise<string> {
  const { status, body } = await api<{ desktop: { id: string } }>(host, 'POST', '/api/desktops', app === 'default' ? {} : { apps: [app] });
  if (status !== 201) throw new Error(`start: ${JSON.stringify(body)}`);
  await appUp(host, body.desktop.id, app);
  return body.desktop.id;
}

/** The picture on the target: a viewer connects as soon as the desktop runs there; first frame, then a change. */
async function pictureOn(host: FleetHost, id: string, t0: number): Promise<{ shown: number; moving: number }> {
  const viewer = await HostViewer.open(host, id);
  const shown = performance.now() - t0;
  await viewer.moves(1, 30_000);
  const moving = performance.now() - t0;
  viewer.close();
  return { shown, moving };
}

const fleet = await makeFleet({ subnet, port, size: 2, displays: (n) => `${displayBase + 4 * n}-${displayBase + 3 + 4 * n}` });
try {
  const env: Record<string, string> = zstdLevel ? { FREEZEFRAME_MOVE_ZSTD_LEVEL: zstdLevel } : {};
  const [a, b] = [await fleet.start(1, { env }), await fleet.start(2, { env })];
  // By hand, b must trust a's key as an operator would (`freezeframe trust`): a move trusts the fleet's list instead.
  await trustKey(b.keyDir, a.keyLine);
  loadLog.note('start');
  for (const app of apps) {
    for (let r = 0; r < rounds; r++) {
      for (const method of [...methods, 'by hand']) {
        const id = await startOn(a, app);
        const source = await HostViewer.open(a, id);
        await source.moves(1, 30_000);
        const t0 = performance.now();
        let row: Row;
        try {
          if (method === 'by hand') {
            const cp = await api<{ checkpoint: { id: string } }>(a, 'POST', `/api/desktops/${id}/checkpoint`, {});
            const exported = await fetch(`${a.url}/api/checkpoints/${cp.body.checkpoint.id}/export`, { headers: { Authorization: `Bearer ${a.token}` } });
            const archive = Buffer.from(await exported.arrayBuffer());
            const imported = await fetch(`${b.url}/api/checkpoints/import`, { method: 'POST', headers: { Authorization: `Bearer ${b.token}`, 'Content-Type': 'application/zstd' }, body: archive });
            if (imported.status !== 201) throw new Error(`import: ${await imported.text()}`);
            const restored = await api(b, 'POST', `/api/checkpoints/${cp.body.checkpoint.id}/restore`, {});
            if (restored.status !== 200) throw new Error(`restore: ${JSON.stringify(restored.body)}`);
            const seen = await pictureOn(b, id, t0);
            row = { app, method, downtimeMs: seen.shown, movingMs: seen.moving, bytes: archive.length, load: load() };
            await api(a, 'POST', `/api/desktops/${id}/stop`, {});
          } else {
            const moved = await api<{ frozenMs: number; dumpMs: number; restoreMs: number; bytesSent: number; phases: unknown; checkpoint: string; error?: unknown }>(a, 'POST', `/api/desktops/${id}/move`, { host: b.id, method });
            if (moved.status !== 200) throw new Error(`move: ${JSON.stringify(moved.body)}`);
            const answered = performance.now() - t0;
            const [seen, last] = await Promise.all([pictureOn(b, id, t0), method === 'lazy' ? lastPage(b, id, moved.body.checkpoint, t0) : undefined]);
            row = {
              app, method, downtimeMs: seen.shown, movingMs: seen.moving, serverFrozenMs: moved.body.frozenMs, dumpMs: moved.body.dumpMs, restoreMs: moved.body.restoreMs,
              bytes: moved.body.bytesSent + (last?.pages ?? 0) * 4096, load: load(), phases: moved.body.phases,
              ...(last ? { lastPageMs: last.at, windowMs: last.at - answered, fetchMs: last.ms, fetchedPages: last.pages } : {}),
            };
          }
        } catch (error) {
          // A failed round is counted and said, with the target's own record of it; the run goes on.
          const there = await api<{ desktop?: { state: string; lastError?: { message: string } } }>(b, 'GET', `/api/desktops/${id}`).catch(() => undefined);
          const failure = { app, method, error: (error as Error).message, target: there?.body.desktop ? `${there.body.desktop.state}: ${there.body.desktop.lastError?.message ?? ''}` : 'none', load: load() };
          failures.push(failure);
          console.log(JSON.stringify({ failure }));
          source.close();
          await api(a, 'POST', `/api/desktops/${id}/stop`, {}).catch(() => {});
          await api(b, 'POST', `/api/desktops/${id}/stop`, {}).catch(() => {});
          continue;
        }
        source.close();
        rows.push(row);
        console.log(JSON.stringify(row));
        await api(b, 'POST', `/api/desktops/${id}/stop`, {});
      }
    }
    loadLog.note(`after ${app}`);
  }
} finally {
  await fleet.dispose();
}

const groups = new Map<string, Row[]>();
for (const row of rows) groups.set(`${row.app}|${row.method}`, [...(groups.get(`${row.app}|${row.method}`) ?? []), row]);
const md = [
  '# Moving a running desktop to another host (bench/move.mts)',
  '',
  `${rounds} rounds per app and method, two test hosts on one machine (network namespaces over a bridge); medians.${zstdLevel ? ` A move's archive at zstd -${zstdLevel}.` : ''}`,
  'downtime: the move asked (the freeze starts) -> the first frame from the target on a viewer that connects as soon as',
  'the desktop runs there; moving: -> the next change of the picture (xclock ticks once a second, so up to 1 s later).',
  '"by hand": checkpoint, export (download), import (upload) and restore through the API.',
  '',
  'lazy: bytes sent = the archive + the pages fetched after the move answered; last page: the move asked -> the target',
  "no longer fetching (polled, 20 ms); window: the move's answer -> the last page (the source still needed);",
  "daemon: criu lazy-pages' own time, its start (before the restore) to its exit.",
  '',
  '| desktop | method | downtime ms | moving ms | frozen (server) ms | dump ms | restore ms | bytes sent | last page ms | window ms | daemon ms | load 1/5/15 |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...[...groups.entries()].map(([key, rs]) => {
    const [app, method] = key.split('|');
    const m = (f: (r: Row) => number | undefined) => fmt(median(rs.map(f).filter((x): x is number => x !== undefined)), 0);
    return `| ${app} | ${method} | ${m((r) => r.downtimeMs)} | ${m((r) => r.movingMs)} | ${m((r) => r.serverFrozenMs)} | ${m((r) => r.dumpMs)} | ${m((r) => r.restoreMs)} | ${m((r) => r.bytes)} | ${m((r) => r.lastPageMs)} | ${m((r) => r.windowMs)} | ${m((r) => r.fetchMs)} | ${rs.at(-1)!.load} |`;
  }),
  '',
  ...(failures.length ? ['Failed rounds (not in the medians):', '', ...failures.map((f) => `- ${f.app} ${f.method} (load ${f.load}): ${f.error}; on the target: ${f.target}`), ''] : []),
  loadLog.markdown(),
  '',
].join('\n');
await writeFile(path.join(resultsDir, `${out}.md`), md);
await writeFile(path.join(resultsDir, `${out}.json`), JSON.stringify({ machine: machine(), rows, failures, load: loadLog.entries }, null, 1));
console.log(md);
