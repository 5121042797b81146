// Proves that a criu binary really dumps and restores here: a tree in Freezeframe's namespaces, running as the
// desktops' unprivileged user and holding a TCP connection, is dumped, found gone, restored, found alive with
// the same uid. What broke before: criu 4.1 with a TCP socket on kernels >= 6.16; an unpatched criu where root
// lacks CAP_SYS_RESOURCE ("Can't get rlimit 0: Operation not permitted", see scripts/criu-patches/).
// usage: node scripts/criu-smoke.mjs CRIU_PATH [USER]   (USER: freezeframe-desktop; exit 0 = works)
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const criu = process.argv[2];
const user = process.argv[3] ?? 'freezeframe-desktop';
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

const entry = spawnSync('getent', ['passwd', user], { encoding: 'utf8' }).stdout.split(':');
if (entry.length < 4) fail(`no user ${user} (scripts/install.sh creates it)`);
const [uid, gid] = [Number(entry[2]), Number(entry[3])];
const home = path.join(work, 'home');
mkdirSync(home, { mode: 0o700 });
chownSync(home, uid, gid);
chmodSync(work, 0o711);
const uids = (p) => readFileSync(`/proc/${p}/status`, 'utf8').match(/^Uid:\s+(.*)$/m)[1].split(/\s+/).map(Number);

const launch = spawnSync(path.join(root, 'native/newns'), [
  '--log', path.join(work, 'tree.log'), '--user', user, '--',
  'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; while :; do sleep 0.05; done`,
], { encoding: 'utf8', cwd: home, env: { PATH: '/usr/bin:/bin', HOME: home } });
if (launch.status !== 0) fail(`native/newns: ${launch.stderr.trim()}`);
pid = Number(launch.stdout.trim());
if (uids(pid).some((u) => u !== uid)) fail(`the tree runs as uid ${uids(pid)}, not ${user}'s ${uid}`);
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
if (uids(pid).some((u) => u !== uid)) fail(`the restored tree runs as uid ${uids(pid)}, not ${uid}`);
console.log(`criu smoke test passed: ${execFileSync(criu, ['--version'], { encoding: 'utf8' }).split('\n')[0]}`);
cleanup();
peer.close();
