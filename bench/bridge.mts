// Purpose: throughput and added latency of Freezeframe's ws<->TCP bridge vs websockify vs direct TCP, same Xvnc, same client.
//
// usage: node --import tsx --import ./server/runtime/register.js bench/bridge.mts [--port=3302] [--displays=80-95]
//        [--rounds=5] [--frames=15] [--samples=500] [--geometry=1920x1080] [--ws-port=16390]
import { spawn } from 'node:child_process';
import * as require_fs from 'node:fs';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { api, arg, barChart, fmt, fmtRatio, header, LoadLog, median, numArg, quantile, startServer, table, withCleanup, writeResults, type Server } from './lib/common.mts';
import { Rfb, tcpTransport, wsTransport } from './lib/rfb.mts';

const port = numArg('port', 3302);
const displays = arg('displays', '80-95');
const rounds = numArg('rounds', 5);
const frames = numArg('frames', 15);
const samples = numArg('samples', 500);
const geometry = arg('geometry', '1920x1080');
const wsPort = numArg('ws-port', 16390);

const loads = new LoadLog();
let server: Server | undefined;
let websockify: ReturnType<typeof spawn> | undefined;

async function waitPort(p: number) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ port: p, host: '127.0.0.1' }, () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await delay(100);
  }
  throw new Error(`nothing listens on ${p}`);
}

/** CPU time (user + system, ms) a process has used so far, from /proc/PID/stat. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
/** The same over a process and all its descendants (websockify forks a process per connection). */
function treeCpuMs(pid: number): number {
  let total = 0;
  try {
    total = cpuMs(pid);
    const { readdirSync } = require_fs;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean)) total += treeCpuMs(Number(child));
    }
  } catch {}
  return total;
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main() {
  loads.note('start');
  server = await startServer({ port, displays });
  const { body } = await api(server.url, 'POST', '/api/desktops', { geometry, apps: ['xterm'] });
  const desktop = body.desktop as { id: string; vncPort: number; vncPassword: string };
  console.log(`desktop ${desktop.id} on ${desktop.vncPort}`);
  websockify = spawn('websockify', [`127.0.0.1:${wsPort}`, `127.0.0.1:${desktop.vncPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitPort(wsPort);

  const variants = {
    direct: () => tcpTransport(desktop.vncPort),
    freezeframe: () => wsTransport(`ws://127.0.0.1:${port}/api/desktops/${desktop.id}/vnc`),
    websockify: () => wsTransport(`ws://127.0.0.1:${wsPort}/`),
  } as const;
  type V = keyof typeof variants;
  const names = Object.keys(variants) as V[];
  const clients = {} as Record<V, Rfb>;
  for (const v of names) clients[v] = await Rfb.open(await variants[v](), desktop.vncPassword);
  const { width, height } = clients.direct;
  // Warm up every path (JIT, socket buffers).
  for (const v of names) for (let i = 0; i < 3; i++) {
    const c = clients[v];
    const next = c.nextUpdate();
    c.request(false);
    await next;
  }

  // Throughput: full-screen, non-incremental, Raw: width*height*4 bytes per frame.
  const mbps: Record<V, number[]> = { direct: [], freezeframe: [], websockify: [] };
  // CPU used per MB moved, per variant: by the relay (the server or websockify) and by the client (this process).
  const relayPid: Record<V, number | undefined> = { direct: undefined, freezeframe: server.child.pid, websockify: websockify.pid };
  const cpu: Record<V, { relay: number; client: number; mb: number; messages?: number }> = { direct: { relay: 0, client: 0, mb: 0 }, freezeframe: { relay: 0, client: 0, mb: 0 }, websockify: { relay: 0, client: 0, mb: 0 } };
  loads.note('throughput');
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const v of order) {
      const c = clients[v];
      const b0 = c.bytes;
      const pid = relayPid[v];
      const m0 = (c.t as any).messages ?? 0;
      // websockify: its process tree (it forks one process per connection). The server: itself only, its threads
      // included: its descendants are the desktops (newns → desktop.sh → Xvnc), whose CPU is not the relay's.
      const relayCpu = (p: number) => (v === 'freezeframe' ? cpuMs(p) : treeCpuMs(p));
      const r0 = pid ? relayCpu(pid) : 0, c0 = selfCpuMs();
      const t0 = performance.now();
      for (let f = 0; f < frames; f++) {
        const next = c.nextUpdate();
        c.request(false);
        await next;
      }
      const s = (performance.now() - t0) / 1000;
      mbps[v].push((c.bytes - b0) / 1e6 / s);
      cpu[v].relay += pid ? relayCpu(pid) - r0 : 0;
      cpu[v].client += selfCpuMs() - c0;
      cpu[v].mb += (c.bytes - b0) / 1e6;
      cpu[v].messages = (cpu[v].messages ?? 0) + ((c.t as any).messages ?? 0) - m0;
    }
    console.log(`round ${r + 1}: ${names.map((v) => `${v} ${fmt(mbps[v].at(-1)!)} MB/s`).join(', ')}`);
  }

  // Latency: a 1x1 non-incremental request and its answer, blocks of 50 per variant, interleaved.
  const lat: Record<V, number[]> = { direct: [], freezeframe: [], websockify: [] };
  loads.note('latency');
  const block = 50;
  for (let b = 0; b * block < samples; b++) {
    const order = names.map((_, i) => names[(i + b) % names.length]);
    for (const v of order) {
      const c = clients[v];
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        const next = c.nextUpdate();
        c.request(false, 0, 0, 1, 1);
        lat[v].push((await next) - t0);
      }
    }
  }
  for (const v of names) clients[v].close();
  loads.note('end');

  const m = (v: V) => median(mbps[v]);
  const l = (v: V) => median(lat[v]);
  const added = (v: V) => l(v) - l('direct');
  const throughputGoal = m('freezeframe') / m('websockify') >= 2;
  const latencyGoal = added('freezeframe') <= 1;
  const frameMB = (width * height * 4) / 1e6;
  const md = [
    header('Bridge: throughput and added latency', 'Freezeframe\'s bridge (the real server/main.ts, ws on its HTTP port) against websockify and against direct TCP to the same Xvnc, with the same streaming RFB client (bench/lib/rfb.mts, Node `ws` for WebSockets). Variants alternate in every round so load hits all three.', loads, [
      `Desktop ${geometry}, apps xterm (idle). Throughput: ${rounds} rounds × ${frames} full-screen non-incremental Raw updates (${fmt(frameMB, 2)} MB each) per variant. Latency: ${samples} round trips per variant (1×1 non-incremental FramebufferUpdateRequest → its update), in interleaved blocks of ${block}. websockify ${'0.10 (Debian)'}.`,
    ]),
    '## Throughput (MB/s, median of rounds)',
    '',
    table(['path', 'median MB/s', 'min', 'max', 'vs direct', 'vs websockify'], names.map((v) => [v, fmt(m(v)), fmt(Math.min(...mbps[v])), fmt(Math.max(...mbps[v])), fmtRatio(m(v), m('direct')), fmtRatio(m(v), m('websockify'))])),
    '',
    `Goal: Freezeframe ≥ 2× websockify → ${fmtRatio(m('freezeframe'), m('websockify'))}: **${throughputGoal ? 'met' : 'missed'}**.`,
    '',
    'CPU per 100 MB moved during the throughput rounds (from /proc/PID/stat: the server process alone (its descendants are the desktops, Xvnc among them), websockify with the processes it forks per connection; process.cpuUsage() for the client; 10 ms resolution):',
    '',
    table(['path', 'relay process CPU ms / 100 MB', 'client CPU ms / 100 MB', 'mean WebSocket message (KB)'], names.map((v) => [v, v === 'direct' ? '–' : fmt((cpu[v].relay / cpu[v].mb) * 100), fmt((cpu[v].client / cpu[v].mb) * 100), v === 'direct' ? '–' : fmt((cpu[v].mb * 1000) / (cpu[v].messages || NaN))])),
    '',
    '## Latency (ms per 1×1 round trip)',
    '',
    table(['path', 'median', 'p10', 'p90', 'p99', 'added over direct (median)', 'ratio vs direct'], names.map((v) => [v, fmt(l(v), 3), fmt(quantile(lat[v], 0.1), 3), fmt(quantile(lat[v], 0.9), 3), fmt(quantile(lat[v], 0.99), 3), fmt(added(v), 3), fmtRatio(l(v), l('direct'))])),
    '',
    `Goal: ≤ 1 ms added median latency over direct TCP → ${fmt(added('freezeframe'), 3)} ms: **${latencyGoal ? 'met' : 'missed'}**.`,
    '',
    loads.markdown(),
    '',
  ].join('\n');
  const svg = barChart('Bridge throughput (MB/s) and latency (ms), medians', '', [
    { name: `Throughput, ${geometry} Raw full frames (MB/s)`, bars: names.map((v) => ({ label: v, value: m(v), note: 'MB/s' })) },
    { name: 'Latency, 1x1 request → update (ms)', bars: names.map((v) => ({ label: v, value: l(v), note: 'ms' })) },
  ]);
  writeResults('bridge', md, svg, { geometry, mbps, cpu, latencyMs: Object.fromEntries(names.map((v) => [v, { median: l(v), p90: quantile(lat[v], 0.9) }])), loads: loads.entries });
  console.log(md);
}

await withCleanup(main, [
  async () => {
    if (websockify && websockify.exitCode === null) websockify.kill('SIGTERM');
  },
  async () => server?.stop(),
]);
