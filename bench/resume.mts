// Purpose: time from the Restore click to the first changed canvas frame in Chromium, per freeze length; plus the no-gate baseline on raw TCP.
//
// usage: node --import tsx --import ./server/runtime/register.js bench/resume.mts [--plan=3x5,60x2,300x1]
//        [--port=3300] [--displays=80-95] [--geometry=800x600] [--raw-wait=150]
// --plan: freeze seconds × repetitions; the repetitions of the different lengths are interleaved.
import { chromium, type Page } from '@playwright/test';
import { setTimeout as delay } from 'node:timers/promises';
import { installCanvasProbe } from '../e2e/support/canvas.ts';
import { api, arg, load, barChart, fmt, fmtRatio, header, LoadLog, median, numArg, startServer, table, withCleanup, writeResults, type Server } from './lib/common.mts';
import { subscribeEvents, type BenchEvent } from './lib/events.mts';
import { Rfb, tcpTransport } from './lib/rfb.mts';

const plan = arg('plan', '3x5,60x2,300x1').split(',').map((p) => p.split('x').map(Number) as [number, number]);
const port = numArg('port', 3300);
const displays = arg('displays', '80-95');
const geometry = arg('geometry', '800x600');
const rawWaitS = numArg('raw-wait', 150);
const GOAL_MS = 500;

// The interleaved order: round r takes the r-th repetition of every length that still has one.
const order: number[] = [];
for (let r = 0; order.length < plan.reduce((n, [, k]) => n + k, 0); r++) for (const [s, k] of plan) if (r < k) order.push(s);

const loads = new LoadLog();
let server: Server | undefined;
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

async function main() {
  loads.note('start');
  server = await startServer({ port, displays });
  const url = server.url;
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

  const samples: Sample[] = [];
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
  loads.note('end');
  report(samples);
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
  writeResults('resume', md, svg, { samples, loads: loads.entries });
  console.log(md);
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
  async () => server?.stop(),
]);
