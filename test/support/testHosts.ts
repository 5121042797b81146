// Test hosts for the fleet (issue #14): a network namespace each, joined by a veth to a bridge in the machine's own
// namespace, with its own address, state folder and server. Traffic goes only to these addresses (10.213.N.0/24,
// made here and removed after): the same machine, and nothing beyond it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { Paths } from '../../server/desktops/records';
import { netnsPrefix } from '../../server/desktops/rooms';

export interface TestNetwork {
  /** The bridge's name and its address in the machine's namespace (where etcd can listen for every host). */
  bridge: string;
  gateway: string;
  subnet: number;
  dispose(): Promise<void>;
}

export interface TestHost {
  name: string;
  netns: string;
  address: string;
  port: number;
  url: string;
  /** Bound to an address other than loopback, the server asks for a token (Authorization: Bearer). */
  token: string;
  stateDir: string;
  /** What the server printed up to its "Freezeframe on" line. */
  banner: string;
  /** SIGTERM, or SIGKILL for a host that dies; keepState: its state folder stays, for a host that starts again. */
  stop(signal?: NodeJS.Signals, options?: { keepState?: boolean }): Promise<void>;
}

/** Every process below pid (by /proc's parent links), children first found first. */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/**
 * Unmounts whatever is mounted below dir, deepest first (a clone's home is an overlay under the state folder: rm
 * went into it and, with the overlay's files busy, took minutes retrying). A mount still busy is detached (lazy).
 */
export async function unmountBelow(dir: string): Promise<void> {
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const below = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((point) => point.startsWith(dir + '/'))
    .sort((a, b) => b.split('/').length - a.split('/').length);
  for (const point of below) {
    await execa('umount', [point], { stdin: 'ignore' }).catch(() => execa('umount', ['-l', point], { stdin: 'ignore' })).catch(() => {});
  }
}

const ip = (args: string[]) => execa('ip', args, { stdin: 'ignore' });

/**
 * No IPv6 on a test link of the machine's namespace (the bridge, a host's outer veth): the tests speak IPv4 only,
 * and the kernel's IPv6 link-local address, whose duplicate detection ends a second or two after the link comes up,
 * made a browser running meanwhile abort its navigation (Chromium: net::ERR_NETWORK_CHANGED, a CI run of
 * e2e/fleetTls, right after its fleet formed). Set before the link is up; a machine without IPv6 has nothing to do.
 */
const withoutIpv6 = (link: string) => writeFile(`/proc/sys/net/ipv6/conf/${link}/disable_ipv6`, '1').catch(() => {});

/**
 * The first 10.213.N.0/24 from wanted on (within its ten) that no link of the machine has an address in: a network
 * another run left behind (killed before its cleanup) or one running beside this one would otherwise take the packets
 * for the same addresses (every request "fetch failed", seen when two runs drew the same random subnet).
 */
async function freeSubnet(wanted: number): Promise<number> {
  const used = new Set([...(await execa('ip', ['-4', '-o', 'addr', 'show'], { stdin: 'ignore' })).stdout.matchAll(/inet 10\.213\.(\d+)\./g)].map((m) => Number(m[1])));
  const base = wanted - (wanted % 10);
  for (let i = 0; i < 10; i++) {
    const n = base + ((wanted - base + i) % 10);
    if (!used.has(n)) return n;
  }
  throw new Error(`no free test subnet in 10.213.${base}-${base + 9}.0/24: networks left by earlier runs? (ip -br addr | grep 10.213; ip link delete ffbr...)`);
}

/** A bridge with address 10.213.SUBNET.1/24 (SUBNET: the one asked for, or the next free one); hosts get .2, .3, ... */
export async function makeNetwork(wanted = 40 + Math.floor(Math.random() * 150)): Promise<TestNetwork> {
  const bridge = `ffbr${randomBytes(2).toString('hex')}`;
  const subnet = await freeSubnet(wanted);
  const gateway = `10.213.${subnet}.1`;
  // A MAC of its own: a bridge otherwise takes the lowest of its ports', so a host that leaves (its veth deleted)
  // can change the gateway's MAC under the other hosts' ARP caches, and their packets to it went nowhere for tens of
  // seconds (a viewer's pongs lost, a request reset: seen in test/move.test.ts once a target was killed).
  const mac = `02:${randomBytes(5).toString('hex').match(/../g)!.join(':')}`;
  await ip(['link', 'add', bridge, 'address', mac, 'type', 'bridge']);
  await withoutIpv6(bridge);
  await ip(['addr', 'add', `${gateway}/24`, 'dev', bridge]);
  await ip(['link', 'set', bridge, 'up']);
  return {
    bridge, gateway, subnet,
    dispose: async () => {
      await ip(['link', 'delete', bridge]).catch(() => {});
    },
  };
}

/**
 * Runs `argv` in the host's network namespace only (nsenter --net; not `ip netns exec`, which also gives the
 * program a mount namespace of its own: the server's namespace files, overlays and criu's view of mounts would then
 * differ from the machine's).
 */
export function inHost(netns: string, argv: string[]): string[] {
  return ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv];
}

/**
 * A host: namespace `ffh-<tag>-<n>` with lo up and a veth to the bridge at 10.213.SUBNET.(n+1), and the real server
 * (server/main.ts on the production build) listening on ADDRESS:PORT with a state folder of its own.
 */
export async function startHost(network: TestNetwork, n: number, { port = 3500, displays = '220-229', env = {}, stateDir: given }: { port?: number; displays?: string; env?: Record<string, string>; stateDir?: string } = {}): Promise<TestHost> {
  await access('.next/BUILD_ID').catch(() => {
    throw new Error('the dashboard is not built: run `npx next build` first (scripts/test.sh does)');
  });
  const tag = randomBytes(2).toString('hex');
  const name = `host${n}`;
  const netns = `ffh-${tag}-${n}`;
  const address = `10.213.${network.subnet}.${n + 1}`;
  const outside = `ffv${tag}${n}`;
  await ip(['netns', 'add', netns]);
  await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  await ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await withoutIpv6(outside);
  await ip(['link', 'set', outside, 'master', network.bridge, 'up']);
  // A MAC that follows the address: a host that starts again (the same address) is found where the others' ARP
  // caches say, not after their entries time out.
  const hex = (x: number) => x.toString(16).padStart(2, '0');
  await ip(['-n', netns, 'link', 'set', 'eth0', 'address', `02:fe:0a:d5:${hex(network.subnet)}:${hex(n + 1)}`]);
  await ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
  await ip(['-n', netns, 'route', 'add', 'default', 'via', network.gateway]);
  // A host that starts again: its state folder of before.
  const stateDir = given ?? (await mkdtemp(path.join(os.tmpdir(), `freezeframe-${name}-`)));
  const token = randomBytes(16).toString('hex');
  const [cmd, ...args] = inHost(netns, [process.execPath, '--import', 'tsx', '--import', './server/runtime/register.js', 'server/main.ts']);
  const server: ChildProcess = spawn(cmd, args, {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: address,
      FREEZEFRAME_TOKEN: token,
      FREEZEFRAME_DEFAULT_DESKTOP: '0',
      FREEZEFRAME_STATE_DIR: stateDir,
      FREEZEFRAME_KEY_DIR: path.join(stateDir, 'keys'),
      FREEZEFRAME_DISPLAYS: displays,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let banner = '';
  const exited = once(server, 'exit');
  for await (const chunk of server.stdout!) {
    banner += chunk;
    if (banner.includes('Freezeframe on')) break;
  }
  if (!banner.includes('Freezeframe on')) throw new Error(`host ${name}'s server exited before it listened:\n${banner}`);
  // Keep draining its output (a full pipe would block the server).
  server.stdout!.resume();
  return {
    name, netns, address, port, url: `${env.FREEZEFRAME_TLS_CERT ? 'https' : 'http'}://${address}:${port}`, token, stateDir, banner,
    async stop(signal: NodeJS.Signals = 'SIGTERM', { keepState = false } = {}) {
      if (server.exitCode === null && server.signalCode === null) {
        // A host that dies takes the server's helpers with it (a tar unpacking an archive, a criu page server): a
        // server killed alone leaves them writing into its state folder.
        const helpers = signal === 'SIGKILL' && server.pid ? await descendants(server.pid) : [];
        server.kill(signal);
        for (const pid of helpers) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
        await exited;
      }
      // A host that stops takes its desktops with it (each tree's root is PID 1 of its namespace: the rest follow).
      for (const id of await readdir(path.join(stateDir, 'desktops')).catch(() => [] as string[])) {
        const record = JSON.parse(await readFile(path.join(stateDir, 'desktops', id, 'desktop.json'), 'utf8').catch(() => '{}'));
        if (Number.isInteger(record.pid) && record.pid > 1) {
          try {
            process.kill(record.pid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
      }
      // Its desktops' namespaces too (the server keeps them across restores; a dead server forgets nothing).
      const prefix = netnsPrefix(new Paths(stateDir));
      for (const kept of (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(prefix))) {
        await ip(['netns', 'delete', kept]).catch(() => {});
      }
      await ip(['netns', 'delete', netns]).catch(() => {});
      await ip(['link', 'delete', outside]).catch(() => {});
      if (!keepState) {
        await unmountBelow(stateDir);
        await rm(stateDir, { recursive: true, force: true, maxRetries: 5 });
      }
    },
  };
}
