// Purpose: time from a restore request to the first frame on the same viewer connection (1 and 4 viewers through the
// bridge), per freeze length, with p50/p99; optionally the Restore click to the first changed canvas frame in
// Chromium, and the no-gate baseline on raw TCP.
//
// usage: node --import tsx --import ./server/runtime/register.js bench/resume.mts [--viewer-plan=1x40,10x6,60x2]
//        [--viewers=1,4] [--browser-plan=3x3,60x2,300x1] [--port=3300] [--displays=80-95] [--geometry=800x600]
//        [--raw-wait=150] [--levels=3,4] [--rcu=alternate] [--pools=4,16]
// --pools: one server per libuv threadpool size (UV_THREADPOOL_SIZE; scripts/serve.sh sets the product's), like
// --levels (the two combine: a server per level and size).
// --rcu=alternate: each repetition runs twice on each desktop, with the kernel's /sys/kernel/rcu_expedited at 0 and
// at 1 (the order alternating; the value found is put back at the end): what expedited RCU grace periods save
// (server/criu/rcu.ts). It is the whole machine's setting while the bench runs.
// --levels: one server per criu log level (FREEZEFRAME_CRIU_LOG_LEVEL), each with its own desktops (the displays
// split between them, ports --port, --port+10, ...), their repetitions alternated: the level's effect measured in
// the same run, under the same load. Without it: one server at the engine's default.
// Plans: freeze seconds × repetitions; the repetitions of the different lengths are interleaved. The browser part
// runs only when --browser-plan (or its old name --plan) is given.
import { chromium, type Page } from '@playwright/test';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { installCanvasProbe } from '../e2e/support/canvas.ts';
import { api, arg, load, barChart, fmt, fmtRatio, header, LoadLog, median, numArg, quantile, startServer, table, withCleanup, writeResults, type Server } from './lib/common.mts';
import { subscribeEvents, type BenchEvent } from './lib/events.mts';
import { Rfb, tcpTransport } from './lib/rfb.mts';
import { Viewer } from './lib/viewers.mts';

const parsePlan = (text: string) => text.split(',').filter(Boolean).map((p) => p.split('x').map(Number) as [number, number]);
const interleave = (plan: [number, number][]) => {
  const out: number[] = [];
  for (let r = 0; out.length < plan.reduce((n, [, k]) => n + k, 0); r++) for (const [s, k] of plan) if (r < k) out.push(s);
  return out;
};
const browserPlanText = arg('browser-plan', arg('plan', ''));
const plan = parsePlan(browserPlanText);
const viewerPlanText = arg('viewer-plan', '1x40,10x6,60x2');
const viewerOrder = interleave(parsePlan(viewerPlanText));
const viewerCounts = arg('viewers', '1,4').split(',').map(Number);
const port = numArg('port', 3300);
const displays = arg('displays', '80-95');
const geometry = arg('geometry', '800x600');
const rawWaitS = numArg('raw-wait', 150);
const levels = arg('levels', '').split(',').filter(Boolean).map(Number);
if (levels.some((l) => l !== 3 && l !== 4)) throw new Error('--levels takes 3 and/or 4');
const rcuMode = arg('rcu', '');
const rcuFile = '/sys/kernel/rcu_expedited';
const rcuFound = rcuMode ? readFileSync(rcuFile, 'utf8').trim() : undefined;
const rcuValues: (0 | 1 | undefined)[] = rcuMode === 'alternate' ? [0, 1] : [undefined];
const setRcu = (v: 0 | 1 | undefined) => v !== undefined && writeFileSync(rcuFile, String(v));
const pools = arg('pools', '').split(',').filter(Boolean).map(Number);
// The servers compared: one per log level and threadpool size asked for (one at the defaults if neither).
const serverSpecs = (levels.length ? levels : [undefined]).flatMap((level) => (pools.length ? pools : [undefined]).map((pool) => ({ level, pool })));
const serverName = ({ level, pool }: { level?: number; pool?: number }) => [level === undefined ? (pool === undefined ? 'default' : '') : `-v${level}`, pool === undefined ? '' : `pool ${pool}`].filter(Boolean).join(', ');
const variantOf = (server: { level?: number; pool?: number }, rcu: 0 | 1 | undefined) => `${serverName(server)}${rcu === undefined ? '' : `, rcu_expedited=${rcu}`}`;
const variants = serverSpecs.flatMap((spec) => rcuValues.map((r) => variantOf(spec, r)));
const GOAL_MS = 500;
const VIEWER_GOAL = { p50: 150, p99: 300 };

// The interleaved order of the browser part.
const order = interleave(plan);

const loads = new LoadLog();
let server: Server | undefined;
const servers: Server[] = [];
let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
let unsubscribe = () => {};

interface Sample {
  freezeS: number;
  actualFreezeS: number;
  browserMs: number | undefined;
  criuRestoreMs?: number;
  restoredEventMs?: number;
  rawSendingMs?: number;
  rawHoldingMs?: number;
  rawSendingFlowMs?: number;
  rawHoldingFlowMs?: number;
  load: string;
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined> | T | undefined, everyMs = 50): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && (v as unknown) !== false) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(everyMs);
  }
}

const state = (page: Page) => page.getByTestId('state-banner').getAttribute('data-state');
const distinct = (page: Page, ms: number, every = 50) => page.evaluate(([d, e]) => window.__canvasProbe.sample(d, e), [ms, every] as const).then((h) => new Set(h).size);

interface ViewerSample {
  /** The server's criu log level (--levels), or undefined: its default. */
  level?: number;
  /** The variant compared (--levels, --rcu): e.g. "-v3, rcu_expedited=1". */
  variant: string;
  viewers: number;
  freezeS: number;
  actualFreezeS: number;
  /** Per viewer: restore request → its first frame (ms); undefined: none within the deadline. */
  firstMs: (number | undefined)[];
  /** The restore API call, request → response (the floor of the figure). */
  apiMs: number;
  criuMs: number;
  /** criu's unlock of the connections' network lock, from its restore log: rules removed, ms. */
  unlock: { rules: number; ms: number };
  load: string;
}

/**
 * The network unlock in a restore log: each connection's iptables rules go with one `iptables -D` run per rule
 * (criu/netfilter.c), each logged "Unlocked A:P - B:Q connection" (pr_info: -v3 and -v4); the span from the line
 * before the first one to the last one. A self-contained desktop's namespace-wide nftables lock (rules: 0) goes in
 * one step after "Unlock network" (pr_info, net.c network_unlock): at -v4 the span from the debug line "Running
 * network-unlock scripts" to the next line; at -v3, which has no debug line until the "Run late stage hook" info
 * line, from "Unlock network" to the next line: an upper bound (it also holds criu's catch of the tasks).
 */
function unlockSpan(log: string): { rules: number; ms: number } {
  const lines = log.split('\n');
  const at = (line: string | undefined) => Number(/^\(\s*([\d.]+)\)/.exec(line ?? '')?.[1] ?? NaN) * 1000;
  const hits = lines.flatMap((l, i) => (/Unlocked .* connection/.test(l) ? [i] : []));
  if (!hits.length) {
    let i = lines.findIndex((l) => l.includes('Running network-unlock scripts'));
    if (i < 0) i = lines.findIndex((l) => l.includes('Unlock network'));
    const next = lines.slice(i + 1).find((l) => Number.isFinite(at(l)));
    return { rules: 0, ms: i < 0 || !next ? 0 : at(next) - at(lines[i]) };
  }
  return { rules: hits.length, ms: at(lines[hits.at(-1)!]) - at(lines[hits[0] - 1]) };
}

const viewerSamples: ViewerSample[] = [];

/** The issue's figure: restore request → first frame on each viewer's same connection, 1 and 4 viewers. */
async function viewersPart(targets: { url: string; level?: number; pool?: number }[]) {
  const desks: { n: number; id: string; viewers: Viewer[]; url: string; level?: number; pool?: number }[] = [];
  try {
    for (const { url, level, pool } of targets) for (const n of viewerCounts) {
      const { body } = await api(url, 'POST', '/api/desktops', { geometry, apps: ['xterm'] });
      const d = body.desktop as { id: string; vncPassword: string };
      const viewers: Viewer[] = [];
      for (let i = 0; i < n; i++) viewers.push(await Viewer.open(url, d.id, d.vncPassword));
      await delay(1500);
      // The xterm prints the time every 50 ms: the screen changes 20 times a second, so a first frame after the
      // restore waits for no clock.
      // bash builtins only, in a background job: no process per line (a `date; sleep` loop forked 100 processes a
      // second per desktop and slowed the very restores measured: criu ~200 ms instead of ~120), and no
      // foreground job a dump could catch just as it exits (criu then cannot give the terminal back to its
      // process group: "tty: Failed to set group N", seen once in 8). `read -t` on a pipe no one writes to is the
      // 20 ms pause.
      await viewers[0].type(120, 120, '( exec 9< <(sleep 1d); while :; do echo $EPOCHREALTIME; read -t 0.02 -u 9; done ) &\n');
      const moving = await viewers[0].updatesOver(1000);
      if (moving < 5) throw new Error(`desktop ${d.id}: the picture does not move (${moving} updates in 1 s)`);
      console.log(`desktop ${d.id}: ${n} viewer(s), ${moving} updates/s${variants.length > 1 ? `, ${serverName({ level, pool })}` : ''}`);
      desks.push({ n, id: d.id, viewers, url, level, pool });
    }
    loads.note('viewers: repetitions');
    for (const [i, freezeS] of viewerOrder.entries()) {
      // The levels' desktops alternate, and which goes first alternates too.
      for (const desk of i % 2 ? [...desks].reverse() : desks) for (const rcu of i % 2 ? [...rcuValues].reverse() : rcuValues) {
        const url = desk.url;
        setRcu(rcu);
        const { body } = await api(url, 'POST', `/api/desktops/${desk.id}/checkpoint`);
        const cp = body.checkpoint.id as string;
        const frozenAt = performance.now();
        await delay(freezeS * 1000);
        const loadNow = load();
        const t0 = performance.now();
        for (const v of desk.viewers) v.arm(t0);
        const restored = await api(url, 'POST', `/api/checkpoints/${cp}/restore`);
        const deadline = performance.now() + 10_000;
        while (desk.viewers.some((v) => v.first === undefined && !v.closed) && performance.now() < deadline) await delay(2);
        if (desk.viewers.some((v) => v.closed)) throw new Error(`desktop ${desk.id}: a viewer's connection closed across the restore`);
        const sample: ViewerSample = {
          level: desk.level, variant: variantOf(desk, rcu), viewers: desk.n, freezeS, actualFreezeS: (t0 - frozenAt) / 1000,
          firstMs: desk.viewers.map((v) => (v.first === undefined ? undefined : v.first - t0)),
          apiMs: restored.ms, criuMs: restored.body.restoreMs, load: loadNow,
          unlock: unlockSpan(readFileSync(restored.body.checkpoint.restores.at(-1).logPath, 'utf8')),
        };
        viewerSamples.push(sample);
        console.log(`${i + 1}/${viewerOrder.length} freeze ${freezeS} s, ${desk.n} viewer(s)${variants.length > 1 ? ` ${variantOf(desk, rcu)}` : ''}: first frames ${sample.firstMs.map((x) => fmt(x ?? NaN)).join(' / ')} ms; restore API ${fmt(sample.apiMs)} (criu ${fmt(sample.criuMs)}, unlock ${sample.unlock.rules} rules ${fmt(sample.unlock.ms)}) ms; load ${loadNow}`);
        await api(url, 'DELETE', `/api/checkpoints/${cp}`).catch(() => {});
        await delay(300);
      }
    }
    loads.note('viewers: end');
  } finally {
    for (const desk of desks) for (const v of desk.viewers) v.close();
  }
}

function viewersReport(): string[] {
  if (!viewerSamples.length) return [];
  const lengths = [...new Set(viewerSamples.map((x) => x.freezeS))].sort((a, b) => a - b);
  const q = (xs: number[], p: number) => quantile(xs, p);
  const all = (xs: ViewerSample[]) => xs.flatMap((x) => x.firstMs.map((m) => m ?? Infinity));
  const worst = (xs: ViewerSample[]) => xs.map((x) => Math.max(...x.firstMs.map((m) => m ?? Infinity)));
  const rows: (string | number)[][] = [];
  const loadRange = (xs: ViewerSample[]) => {
    const l1 = xs.map((x) => Number(x.load.split(' ')[0]));
    return `${fmt(Math.min(...l1), 2)}–${fmt(Math.max(...l1), 2)}`;
  };
  for (const variant of variants) for (const n of viewerCounts) {
    for (const s of [...lengths, 'all'] as const) {
      const xs = viewerSamples.filter((x) => x.variant === variant && x.viewers === n && (s === 'all' || x.freezeS === s));
      if (!xs.length) continue;
      const f = all(xs);
      const w = worst(xs);
      const apiP50 = median(xs.map((x) => x.apiMs));
      const verdict = s === 'all' ? `${q(f, 0.5) <= VIEWER_GOAL.p50 ? 'p50 met' : 'p50 missed'}, ${q(f, 0.99) <= VIEWER_GOAL.p99 ? 'p99 met' : 'p99 missed'}` : '';
      rows.push([variant, n, s === 'all' ? '**all**' : `${s} s`, xs.length, f.length, fmt(q(f, 0.5)), fmt(q(f, 0.9)), fmt(q(f, 0.99)), fmt(Math.max(...f)), fmt(q(w, 0.5)), fmt(q(w, 0.99)), fmt(apiP50), fmtRatio(q(f, 0.5), apiP50), fmt(median(xs.map((x) => x.criuMs))), `${median(xs.map((x) => x.unlock.rules))} / ${fmt(median(xs.map((x) => x.unlock.ms)))}`, loadRange(xs), verdict]);
    }
  }
  // The lever: each variant against the first one, same run, alternated.
  const lever = variants.length > 1 ? viewerCounts.flatMap((n) => variants.slice(1).map((variant) => {
    const of = (v: string) => viewerSamples.filter((x) => x.variant === v && x.viewers === n);
    const [a, b] = [of(variant), of(variants[0])];
    const p = (xs: ViewerSample[], k: number) => q(all(xs), k);
    const c = (xs: ViewerSample[]) => median(xs.map((x) => x.criuMs));
    return [n, `${variant} vs ${variants[0]}`, `${fmt(p(a, 0.5))} / ${fmt(p(b, 0.5))}`, fmtRatio(p(a, 0.5), p(b, 0.5)), `${fmt(p(a, 0.99))} / ${fmt(p(b, 0.99))}`, `${fmt(c(a))} / ${fmt(c(b))}`, fmtRatio(c(a), c(b)), `${loadRange(a)} / ${loadRange(b)}`];
  })) : [];
  return [
    '## Restore request → first frame on the same viewer connection',
    '',
    `Viewers are RFB clients through the real bridge (\`ws://…/api/desktops/<id>/vnc\`, the desktop's VNC password), each asking for the next incremental update as soon as one arrives, as noVNC does; their TCP connections to Xvnc are dumped and restored with the desktop (\`connections: kept\`). One desktop per viewer count (${geometry}, an xterm printing the time every 20 ms, bash builtins only). Each repetition: \`POST /api/desktops/:id/checkpoint\`, the freeze, then \`POST /api/checkpoints/:id/restore\`; the time is from that request to each viewer's first complete update after it (a viewer whose connection closed fails the bench). Baseline in the same run: the restore API call itself (request → response), which no frame can precede. Plan ${viewerPlanText}, viewer counts ${viewerCounts.join(', ')}, interleaved. Goal: p50 ≤ ${VIEWER_GOAL.p50} ms and p99 ≤ ${VIEWER_GOAL.p99} ms for any freeze length, with one and with four viewers.`,
    '',
    ...(lever.length ? [
      `**The variants, alternated in the same run** (log levels, threadpool sizes: one server each, with its own desktops; rcu_expedited: the same desktop, set before each checkpoint; which goes first alternates by repetition):`,
      '',
      table(['viewers', 'variants', 'first frame p50 (ms)', 'ratio', 'p99 (ms)', 'criu restore p50 (ms)', 'ratio', 'load (1 min) range'], lever),
      '',
    ] : []),
    table(['variant', 'viewers', 'freeze', 'restores', 'frames', 'p50 (ms)', 'p90', 'p99', 'max', 'slowest viewer per restore: p50', 'its p99', 'restore API p50 (baseline)', 'p50 / API', 'criu restore p50 (engine)', 'of which the network unlock: iptables rules (0: the namespace-wide nftables table) / ms (p50)', 'load (1 min) range', `goal p50 ≤ ${VIEWER_GOAL.p50}, p99 ≤ ${VIEWER_GOAL.p99}`], rows),
    '',
    'Every repetition:',
    '',
    table(['#', 'variant', 'viewers', 'freeze (s)', 'actual (s)', 'first frame per viewer (ms)', 'restore API (ms)', 'criu (ms)', 'unlock: rules / ms', 'load 1/5/15'], viewerSamples.map((x, i) => [i + 1, x.variant, x.viewers, x.freezeS, fmt(x.actualFreezeS), x.firstMs.map((m) => fmt(m ?? NaN)).join(' / '), fmt(x.apiMs), fmt(x.criuMs), `${x.unlock.rules} / ${fmt(x.unlock.ms)}`, x.load])),
    '',
  ];
}

async function main() {
  loads.note('start');
  // One server per spec, the displays split between them.
  const [lo, hi] = displays.split('-').map(Number);
  const per = Math.floor((hi - lo + 1) / serverSpecs.length);
  for (const [i, { level, pool }] of serverSpecs.entries()) {
    const env: Record<string, string> = {};
    if (level !== undefined) env.FREEZEFRAME_CRIU_LOG_LEVEL = String(level);
    if (pool !== undefined) env.UV_THREADPOOL_SIZE = String(pool);
    servers.push(await startServer({ port: port + 10 * i, displays: `${lo + per * i}-${lo + per * (i + 1) - 1}`, env }));
  }
  server = servers[0];
  if (viewerOrder.length) await viewersPart(serverSpecs.map((spec, i) => ({ url: servers[i].url, ...spec })));
  if (order.length) await browserPart(server.url);
  loads.note('end');
  report(browserSamples);
}

const browserSamples: Sample[] = [];

async function browserPart(url: string) {
  const { body } = await api(url, 'POST', '/api/desktops', { geometry, apps: ['xterm'] });
  const desktop = body.desktop as { id: string; vncPort: number; vncPassword: string };
  console.log(`desktop ${desktop.id} :${desktop.vncPort}`);

  const events: { e: BenchEvent; at: number }[] = [];
  let onRestored: ((e: BenchEvent, at: number) => void) | undefined;
  unsubscribe = await subscribeEvents(url, (e, at) => {
    if (e.desktop.id !== desktop.id) return;
    events.push({ e, at });
    if (e.type === 'restored') onRestored?.(e, at);
  });

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  // tsx (esbuild, keepNames) wraps functions in __name(); functions sent to the page need it defined there too.
  await page.addInitScript('window.__name = (f) => f;');
  await installCanvasProbe(page);
  await page.goto(`${url}/desktops/${desktop.id}`);
  await waitFor('the viewer to connect', 30_000, async () => (await page.getByTestId('vnc-viewer').getAttribute('data-phase')) === 'connected');
  await waitFor('a picture', 30_000, () => page.evaluate(() => window.__canvasProbe.colours() > 4));

  // An xterm printing the time every 50 ms: the screen changes 20 times a second, so "the first changed frame" is
  // not waiting for a clock tick.
  const canvas = page.locator('[data-testid="vnc-screen"] canvas');
  const box = (await canvas.boundingBox())!;
  const [w, h] = geometry.split('x').map(Number);
  await page.mouse.click(box.x + (120 * box.width) / w, box.y + (120 * box.height) / h);
  await delay(300);
  await page.keyboard.type('while :; do date +%s.%N; sleep 0.05; done\n', { delay: 15 });
  const moving = await waitFor('the xterm loop to move the picture', 10_000, async () => ((await distinct(page, 1000)) > 5 ? true : undefined), 200);
  console.log(`xterm loop running: ${moving}`);
  await page.getByRole('heading', { name: desktop.id }).click();

  // The no-gate baseline on raw TCP: two viewers straight on Xvnc, each asking for the next update after every one
  // (as noVNC does) and, like a viewer whose user moves the mouse, sending a request every 500 ms regardless. One
  // sends through the freeze (what the bridge did before the gate); the other holds its bytes from just before the
  // checkpoint until the 'restored' event and flushes them then (what the gate does).
  const sending = await Rfb.open(await tcpTransport(desktop.vncPort), desktop.vncPassword);
  const holding = await Rfb.open(await tcpTransport(desktop.vncPort), desktop.vncPassword);
  // The first update after a restore may answer a request Xvnc got before the freeze; the ones after it need the
  // client's newer requests to get through. So what counts is the FLOWth update after the click: the picture moving.
  const seen = { sending: 0, holding: 0 };
  sending.onUpdate = (at) => {
    if (firstUpdate.armed) {
      if (++seen.sending === 1) firstUpdate.sending = at;
      if (seen.sending === FLOW) firstUpdate.sendingFlow = at;
    }
    sending.request(true);
  };
  holding.onUpdate = (at) => {
    if (firstUpdate.armed) {
      if (++seen.holding === 1) firstUpdate.holding = at;
      if (seen.holding === FLOW) firstUpdate.holdingFlow = at;
    }
    holding.request(true);
  };
  for (const c of [sending, holding]) c.request(false);
  const ticker = setInterval(() => {
    sending.request(true);
    holding.request(true);
  }, 500);

  const samples = browserSamples;
  try {
    for (const [i, freezeS] of order.entries()) {
      console.log(`--- ${i + 1}/${order.length}: freeze ${freezeS} s`);
      if ((await distinct(page, 600)) < 3) throw new Error('the picture is not moving before the checkpoint');
      holding.hold();
      await page.getByTestId('checkpoint-button').click();
      await waitFor('checkpointed', 60_000, async () => ((await state(page)) === 'checkpointed' ? true : undefined));
      const frozenAt = performance.now();
      await delay(freezeS * 1000 - 700);
      if ((await distinct(page, 600, 100)) !== 1) console.warn('!! the canvas changed during the freeze');
      const loadNow = load();
      await page.evaluate(() => window.__canvasProbe.armClickToChange('[data-testid="restore-button"]'));
      let restoredAt: number | undefined;
      let restoredMs: number | undefined;
      onRestored = (e, at) => {
        holding.flush();
        restoredAt = at;
        restoredMs = e.ms;
      };
      const s0 = sending.updates, h0 = holding.updates;
      firstUpdate.sending = firstUpdate.holding = firstUpdate.sendingFlow = firstUpdate.holdingFlow = undefined;
      seen.sending = seen.holding = 0;
      firstUpdate.armed = true;
      const clickNode = performance.now();
      const actualFreezeS = (clickNode - frozenAt) / 1000;
      await page.getByTestId('restore-button').click();
      const browserMs = await waitFor('the first changed frame', 60_000, () =>
        page.evaluate(() => {
          const t = window.__canvasProbe.clickToChange;
          return t?.clickAt !== undefined && t.changeAt !== undefined ? t.changeAt - t.clickAt : undefined;
        }),
      ).catch((e) => (console.warn(`!! ${e.message}`), undefined));
      await waitFor('running', 30_000, async () => ((await state(page)) === 'running' ? true : undefined));
      await waitFor("the holding client's updates", 10_000, () => (firstUpdate.holdingFlow !== undefined ? true : undefined)).catch(() => {});
      await waitFor("the sending client's updates", rawWaitS * 1000, () => (firstUpdate.sendingFlow !== undefined ? true : undefined), 100).catch(() => {});
      void s0, h0;
      const sample: Sample = {
        freezeS, actualFreezeS, browserMs, load: loadNow,
        criuRestoreMs: restoredMs,
        restoredEventMs: restoredAt !== undefined ? restoredAt - clickNode : undefined,
        rawSendingMs: firstUpdate.sending !== undefined ? firstUpdate.sending - clickNode : undefined,
        rawHoldingMs: firstUpdate.holding !== undefined ? firstUpdate.holding - clickNode : undefined,
        rawSendingFlowMs: firstUpdate.sendingFlow !== undefined ? firstUpdate.sendingFlow - clickNode : undefined,
        rawHoldingFlowMs: firstUpdate.holdingFlow !== undefined ? firstUpdate.holdingFlow - clickNode : undefined,
      };
      samples.push(sample);
      console.log(`freeze ${freezeS} s: browser ${fmt(browserMs ?? NaN)} ms; criu restore ${fmt(restoredMs ?? NaN)} ms; raw sending ${fmt(sample.rawSendingMs ?? NaN)}/${fmt(sample.rawSendingFlowMs ?? NaN)} ms, raw holding ${fmt(sample.rawHoldingMs ?? NaN)}/${fmt(sample.rawHoldingFlowMs ?? NaN)} ms (1st/${FLOW}th update); load ${loadNow}`);
      firstUpdate.armed = false;
      await delay(1000);
    }
  } finally {
    clearInterval(ticker);
    sending.close();
    holding.close();
  }
}

// The first update each raw client gets after the restore click (reset before each repetition).
const firstUpdate: { sending?: number; holding?: number; sendingFlow?: number; holdingFlow?: number; armed?: boolean } = {};
const FLOW = 5;

function resumeChart(rows: { s: number; b: number; hld: number; snd: number }[]): string {
  return barChart('Restore → picture moving again (median ms)', 'ms', rows.map((r) => ({ name: `freeze ${r.s} s`, bars: [
    { label: 'Chromium via bridge (gate)', value: r.b },
    { label: `raw TCP, holding (gate), ${FLOW}th upd.`, value: r.hld },
    { label: `raw TCP, sending (no gate), ${FLOW}th upd.`, value: r.snd },
  ] })), { value: GOAL_MS, label: `goal ${GOAL_MS} ms` }, 'log');
}

function report(samples: Sample[]) {
  if (!samples.length) {
    const md = [header('Resume: restore request → first frame on the same connection', 'The time from a restore request to the first frame each connected viewer gets on its same connection (the freeze gate, the restore, Xvnc\'s update), per freeze length and viewer count.', loads), ...viewersReport(), loads.markdown(), ''].join('\n');
    writeResults('resume', md, viewersChart(), { viewerSamples, loads: loads.entries });
    console.log(md);
    return;
  }
  const lengths = [...new Set(order)].sort((a, b) => a - b);
  const by = (s: number) => samples.filter((x) => x.freezeS === s);
  const med = (xs: (number | undefined)[]) => median(xs.filter((x): x is number => x !== undefined));
  const rows = lengths.map((s) => {
    const xs = by(s);
    const b = med(xs.map((x) => x.browserMs));
    const snd = med(xs.map((x) => x.rawSendingFlowMs));
    const hld = med(xs.map((x) => x.rawHoldingFlowMs));
    const snd1 = med(xs.map((x) => x.rawSendingMs));
    const hld1 = med(xs.map((x) => x.rawHoldingMs));
    return { s, n: xs.length, snd1, hld1, b, max: Math.max(...xs.map((x) => x.browserMs ?? NaN)), criu: med(xs.map((x) => x.criuRestoreMs)), ev: med(xs.map((x) => x.restoredEventMs)), snd, hld };
  });
  const base = rows[0];
  const md = [
    header('Resume: Restore click → first changed frame', 'Chromium (Playwright, /usr/bin/chromium) on the desktop page of the real server; an xterm prints the time every 50 ms, so the screen changes 20×/s. The time is measured in the page: from the click on Restore to the first animation frame whose canvas pixels differ (e2e/support/canvas.ts armClickToChange). Each repetition checkpoints from the page, waits the freeze length, then restores from the page.', loads, [
      `Desktop ${geometry}, apps xterm. Plan ${arg('plan', '3x5,60x2,300x1')}, repetitions interleaved: ${order.join(', ')} s.`,
    ]),
    ...viewersReport(),
    '## Browser (the product, with the freeze gate)',
    '',
    table(['freeze', 'reps', 'median click→frame (ms)', 'max (ms)', 'vs 3 s freeze', 'criu restore (engine, ms)', 'click→restored event (ms)', `goal ≤ ${GOAL_MS} ms`], rows.map((r) => [`${r.s} s`, r.n, fmt(r.b), fmt(r.max), fmtRatio(r.b, base.b), fmt(r.criu), fmt(r.ev), r.max <= GOAL_MS ? 'met (every rep)' : r.b <= GOAL_MS ? 'median met, not every rep' : 'missed'])),
    '',
    '## The no-gate baseline (raw TCP RFB clients on the same desktop, in the same freezes)',
    '',
    `Both clients connect straight to Xvnc (no bridge), ask for the next incremental update after each one, and send an incremental request every 500 ms (as a viewer whose user moves the mouse would send events). **sending** keeps writing through the freeze: its bytes hit CRIU's network-lock DROP rules and wait for TCP's retransmission back-off. **holding** keeps its bytes from just before the checkpoint until the server's \`restored\` event and then flushes them: what the gate does. Times are from the Node-side moment of the Restore click to each client's ${FLOW}th update (the picture moving again: the first update after a restore may answer a request Xvnc had before the freeze, so it says little), and to its first.`,
    '',
    table(['freeze', `holding (gate): ${FLOW}th update, ms`, `sending (no gate): ${FLOW}th update, ms`, 'no gate / gate', 'holding: 1st update', 'sending: 1st update'], rows.map((r) => [`${r.s} s`, fmt(r.hld), fmt(r.snd), fmtRatio(r.snd, r.hld), fmt(r.hld1), fmt(r.snd1)])),
    '',
    '## Every repetition',
    '',
    table(['#', 'freeze (s)', 'actual (s)', 'click→frame (ms)', 'criu restore (ms)', `raw holding 1st/${FLOW}th (ms)`, `raw sending 1st/${FLOW}th (ms)`, 'load 1/5/15'], samples.map((x, i) => [i + 1, x.freezeS, fmt(x.actualFreezeS), fmt(x.browserMs ?? NaN), fmt(x.criuRestoreMs ?? NaN), `${fmt(x.rawHoldingMs ?? NaN)} / ${fmt(x.rawHoldingFlowMs ?? NaN)}`, `${fmt(x.rawSendingMs ?? NaN)} / ${fmt(x.rawSendingFlowMs ?? NaN)}`, x.load])),
    '',
    loads.markdown(),
    '',
  ].join('\n');
  const svg = resumeChart(rows);
  writeResults('resume', md, svg, { samples, viewerSamples, loads: loads.entries });
  console.log(md);
}

function viewersChart(): string {
  const lengths = [...new Set(viewerSamples.map((x) => x.freezeS))].sort((a, b) => a - b);
  return barChart('Restore request → first frame, same connection (ms)', 'ms', lengths.map((s) => ({
    name: `freeze ${s} s`,
    bars: viewerCounts.flatMap((n) => {
      const f = viewerSamples.filter((x) => x.viewers === n && x.freezeS === s).flatMap((x) => x.firstMs.map((m) => m ?? Infinity));
      return [{ label: `${n} viewer(s): p50`, value: quantile(f, 0.5) }, { label: `${n} viewer(s): p99`, value: quantile(f, 0.99) }];
    }),
  })), { value: VIEWER_GOAL.p50, label: `goal p50 ${VIEWER_GOAL.p50} ms` });
}

// --svg-from=bench/results/resume.json: redraw the chart of an earlier run, measuring nothing.
const svgFrom = arg('svg-from', '');
if (svgFrom) {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const samples: Sample[] = JSON.parse(readFileSync(svgFrom, 'utf8')).samples;
  const med = (xs: (number | undefined)[]) => median(xs.filter((x): x is number => x !== undefined));
  const rows = [...new Set(samples.map((x) => x.freezeS))].sort((a, b) => a - b).map((s) => {
    const xs = samples.filter((x) => x.freezeS === s);
    return { s, b: med(xs.map((x) => x.browserMs)), hld: med(xs.map((x) => x.rawHoldingFlowMs)), snd: med(xs.map((x) => x.rawSendingFlowMs)) };
  });
  writeFileSync(svgFrom.replace(/\.json$/, '.svg'), resumeChart(rows));
  process.exit(0);
}

await withCleanup(main, [
  async () => unsubscribe(),
  async () => browser?.close(),
  async () => { for (const s of servers) await s.stop(); },
  async () => { if (rcuFound !== undefined) writeFileSync(rcuFile, rcuFound); },
]);
