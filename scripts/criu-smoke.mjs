// Proves that a criu binary really dumps and restores here: a tree in Freezeframe's namespaces holding a TCP
// connection (what broke criu 4.1 on kernels >= 6.16) is dumped, found gone, restored, found alive.
// usage: node scripts/criu-smoke.mjs CRIU_PATH   (exit 0 = works; prints why not otherwise)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const criu = process.argv[2];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'freezeframe-smoke-'));
const fail = (why) => {
  console.error(`criu smoke test failed: ${why}`);
  cleanup();
  process.exit(1);
};
let pid = 0;
const alive = (p) => {
  try {
    return !readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return false;
  }
};
const cleanup = () => {
  if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
const until = async (what, ok, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const peer = net.createServer((socket) => socket.on('error', () => {}));
await new Promise((r) => peer.listen(0, '127.0.0.1', r));
let connected = false;
peer.on('connection', () => (connected = true));
const port = peer.address().port;

const launch = spawnSync(path.join(root, 'native/newns'), [
  '--log', path.join(work, 'tree.log'), '--no-caps', '--',
  'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; while :; do sleep 0.05; done`,
], { encoding: 'utf8' });
if (launch.status !== 0) fail(`native/newns: ${launch.stderr.trim()}`);
pid = Number(launch.stdout.trim());
await until('the tree to connect', () => connected);

const run = (args, log) => {
  const r = spawnSync(criu, [...args, '-D', work, '-o', log, '-v4'], { encoding: 'utf8', timeout: 60_000 });
  const text = existsSync(path.join(work, log)) ? readFileSync(path.join(work, log), 'utf8') : '';
  const errors = text.split('\n').filter((l) => l.includes('Error (')).slice(0, 3).join('\n');
  return { ok: r.status === 0, why: `exit ${r.status}\n${errors || r.stderr}` };
};
const dump = run(['dump', '-t', String(pid), '--tcp-established'], 'dump.log');
if (!dump.ok) fail(`dump: ${dump.why}`);
await until('the dumped tree to be gone', () => !alive(pid));
const restore = run(['restore', '-d', '--tcp-established', '--root', '/', '--pidfile', path.join(work, 'pid')], 'restore.log');
if (!restore.ok) fail(`restore: ${restore.why}`);
pid = Number(readFileSync(path.join(work, 'pid'), 'utf8'));
if (!alive(pid)) fail('the restored tree is not alive');
console.log(`criu smoke test passed: ${execFileSync(criu, ['--version'], { encoding: 'utf8' }).split('\n')[0]}`);
cleanup();
peer.close();
