// Purpose: the bridge's relay cost alone (CPU per 100 MB, MB/s), with a fast TCP source instead of Xvnc.
//
// usage: node --import tsx --import ./server/runtime/register.js bench/analysis/relay.mts [--mb=2000] [--rounds=3]
//        [--heap=100] [--old=path/to/another/bridge.ts] [--variant=--read=262144] [--prof]
// Two processes so the relay's CPU is its own: this one (a TCP source writing one 8 MB buffer over and over, and a
// `ws` client reading), and a child running server/bridge as server/main.ts wires it (an HTTP server's 'upgrade' →
// createBridge). Also measured: the same source read over direct TCP, and a bare relay doing nothing but
// socket 'data' → ws.send (--variant=--read=N: reads into fresh N-byte buffers instead).
// --heap=MB gives the relay process a ballast heap of about that size (the real server carries Next.js): what the
// garbage collector has to go through. --old=PATH measures another copy of server/bridge too (e.g. a `git archive`
// of an older commit placed inside the worktree, for module resolution). --prof: the relay writes a .cpuprofile to
// /tmp/relay-prof.
import { fork } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { arg, fmt, numArg } from '../lib/common.mts';

const MB = 1e6;

if (process.argv.includes('--child')) {
  // The relay process: the real bridge, or a bare ws relay.
  const { createBridge } = await import(arg('bridge', '../../server/bridge/bridge.ts'));
  // A heap the size of the real server's (Next.js loaded): what a full GC has to go through.
  const ballast: unknown[] = [];
  for (let i = 0; i < numArg('heap', 0) * 1e4; i++) ballast.push({ i, s: `x${i}`, a: [i, i + 1] });
  (globalThis as any).ballast = ballast;
  const sourcePort = Number(arg('source', '0'));
  const bare = process.argv.includes('--bare');
  const http = createServer();
  if (bare) {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => {
      const readSize = Number(arg('read', '0'));
      const tcp = readSize
        ? net.connect({ port: sourcePort, host: '127.0.0.1', onread: { buffer: () => Buffer.allocUnsafeSlow(readSize), callback: (n: number, buf: Uint8Array) => void ws.send(buf.subarray(0, n)) } } as any)
        : net.connect({ port: sourcePort, host: '127.0.0.1' });
      if (!readSize) tcp.on('data', (b) => ws.send(b));
      ws.on('message', (m) => tcp.write(m as Buffer));
      ws.on('close', () => tcp.destroy());
    }));
  } else {
    const bridge = createBridge({ lookup: async () => ({ port: sourcePort }), events: new EventEmitter() }, { checkOrigin: false });
    http.on('upgrade', (req, socket, head) => bridge.handleUpgrade(req, socket, head, 'd-bench'));
  }
  http.listen(0, '127.0.0.1', () => process.send!({ port: (http.address() as net.AddressInfo).port }));
  process.on('SIGINT', () => process.exit(0));
  process.on('message', (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpu: (u.user + u.system) / 1000 });
    }
  });
} else {
  const total = numArg('mb', 2000) * MB;
  const chunk = Buffer.alloc(8 * 1024 * 1024, 7);
  // The source: on each byte from its client, writes `total` bytes (the same buffer again and again).
  const source = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', () => {
      let left = total;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
        }
      };
      pump();
    });
  });
  source.listen(0, '127.0.0.1');
  await once(source, 'listening');
  const sourcePort = (source.address() as net.AddressInfo).port;

  const self = fileURLToPath(import.meta.url);
  const variant = arg('variant', '');
  let relayBridge = '../../server/bridge/bridge.ts';
  async function relay(bare: boolean) {
    const execArgv = [...(bare ? (process.env.BARE_NODE_ARGS ?? '').split(' ').filter(Boolean) : []), '--import', 'tsx', '--import', './server/runtime/register.js', ...(process.argv.includes('--prof') && !bare ? ['--cpu-prof', '--cpu-prof-dir=/tmp/relay-prof'] : [])];
    const child = fork(self, ['--child', `--source=${sourcePort}`, `--heap=${numArg('heap', 0)}`, ...(bare ? [] : [`--bridge=${relayBridge}`]), ...(bare ? ['--bare', ...variant.split(',').filter(Boolean)] : [])], { execArgv });
    const [{ port }] = (await once(child, 'message')) as [{ port: number }];
    const cpu = async () => {
      child.send('cpu');
      return ((await once(child, 'message')) as [{ cpu: number }])[0].cpu;
    };
    return { port, cpu, stop: () => child.kill('SIGINT') };
  }

  async function viaWs(port: number) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/desktops/d-bench/vnc`, ['binary'], { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    await once(ws, 'open');
    let got = 0, messages = 0;
    const done = new Promise<void>((resolve) => ws.on('message', (d: Buffer) => {
      got += d.length;
      messages++;
      if (got >= total) resolve();
    }));
    const t0 = performance.now();
    ws.send(Buffer.from([1]));
    await done;
    const ms = performance.now() - t0;
    ws.close();
    return { ms, messages };
  }
  async function direct() {
    const s = net.connect({ port: sourcePort, host: '127.0.0.1' });
    await once(s, 'connect');
    let got = 0;
    const done = new Promise<void>((resolve) => s.on('data', (d) => ((got += d.length) >= total ? resolve() : undefined)));
    const t0 = performance.now();
    s.write(Buffer.from([1]));
    await done;
    const ms = performance.now() - t0;
    s.destroy();
    return { ms };
  }

  const rows: string[][] = [];
  const self0 = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  for (let round = 0; round < numArg('rounds', 3); round++) {
    {
      const c0 = self0();
      const { ms } = await direct();
      rows.push(['direct', fmt(total / MB / (ms / 1000)), '–', fmt(((self0() - c0) * 100 * MB) / total)]);
    }
    for (const [name, bare, bridgePath] of [['freezeframe bridge', false, '../../server/bridge/bridge.ts'], ['before (HEAD)', false, arg('old', '')], ['bare ws relay', true, '']] as const) {
      if (!bare && !bridgePath) continue;
      relayBridge = bridgePath;
      const r = await relay(bare);
      const before = await r.cpu();
      const c0 = self0();
      const { ms, messages } = await viaWs(r.port);
      const relayCpu = (await r.cpu()) - before;
      rows.push([name, fmt(total / MB / (ms / 1000)), fmt((relayCpu * 100 * MB) / total), fmt(((self0() - c0) * 100 * MB) / total), fmt(total / messages / 1024)]);
      r.stop();
    }
  }
  console.log('| path | MB/s | relay CPU ms / 100 MB | source + client CPU ms / 100 MB | mean message KiB |\n|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  source.close();
}
