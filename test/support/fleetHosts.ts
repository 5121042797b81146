// The one fleet of test hosts every fleet and move test uses (test/support/testHosts.ts underneath): a network, one
// fleet key for all, and either a static peers directory (FREEZEFRAME_PEERS: a signing key made for each host
// beforehand, so every host's list has the others' keys) or a real etcd on the bridge's gateway; optionally TLS (a
// throwaway CA signs each host's and etcd's certificate). One teardown for all of it, whatever failed.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { loadFleetTrust, peerFetch, type FleetTrust } from '../../server/fleet/peerCall';
import { RfbClient, wsTransport } from '../../server/vnc/rfbClient';
import { startEtcd, type TestEtcd } from './etcd';
import { eventually } from './eventually';
import { makeCa, type TestCa } from './testCa';
import { makeNetwork, startHost, type TestHost, type TestNetwork } from './testHosts';
import { within } from './within';

export interface FleetHost extends TestHost {
  id: string;
  /** Its public key line in the static directory ('' in an etcd fleet: its hosts make theirs as they start). */
  keyLine: string;
  /** Its FREEZEFRAME_KEY_DIR (signing key, trusted keys). */
  keyDir: string;
  /** The environment its server runs with (the fleet's part and its state folder): what its CLI needs too. */
  env: Record<string, string>;
}

export interface FleetOptions {
  subnet: number;
  port: number;
  displays: (n: number) => string;
  /** How many hosts the fleet has room for: a static fleet lists all of them in every host's FREEZEFRAME_PEERS. */
  size: number;
  /** How many of them (1..started) start with the fleet, one after the other; more with start(n). */
  started?: number;
  /** A host's id (default host<n>). */
  id?: (n: number) => string;
  /** A real etcd on the bridge's gateway at this client port (and the next, its peer port): membership through etcd
   *  (FREEZEFRAME_ETCD, FREEZEFRAME_PUBLIC_URL) instead of a static FREEZEFRAME_PEERS. */
  etcdPort?: number;
  /** HTTPS everywhere: each host's certificate (SAN: its address) and etcd's signed by a throwaway CA, which every
   *  host trusts as FREEZEFRAME_FLEET_CA; nodeExtraCaCerts: Node's own trust too (NODE_EXTRA_CA_CERTS). */
  tls?: { nodeExtraCaCerts?: boolean };
  /** Free memory a host reports (FREEZEFRAME_TEST_MEM_AVAILABLE, the test seam of server/fleet/hostInfo.ts). */
  memory?: (n: number) => number;
  /** More environment for host n. */
  env?: (n: number) => Record<string, string>;
}

export interface Fleet {
  network: TestNetwork;
  key: string;
  keyFile: string;
  /** The fleet key's folder (0700), removed with the fleet: room for a test's own throwaway files. */
  dir: string;
  etcd?: TestEtcd;
  ca?: TestCa;
  /** How this test trusts the hosts' and etcd's certificates (TLS fleets). */
  trust?: FleetTrust;
  /** The host now running as n at hosts[n - 1] (start(n) again replaces it). */
  hosts: FleetHost[];
  /** Starts host n (address .n+1); `peers` rewrites the static list this one host sees; stateDir: a host that starts again. */
  start(n: number, options?: { peers?: (list: PeerLine[]) => PeerLine[]; env?: Record<string, string>; stateDir?: string }): Promise<FleetHost>;
  /** Until every running host's view lists exactly every running host, fresh (an etcd fleet). */
  formed(timeoutMs?: number): Promise<void>;
  /** Stops every host, etcd, removes the key folder, the CA and the network: each step whatever the others did. */
  dispose(): Promise<void>;
}

export interface PeerLine {
  id: string;
  url: string;
  publicKey: string;
}

export async function makeFleet(options: FleetOptions & { etcdPort: number }): Promise<Fleet & { etcd: TestEtcd }>;
export async function makeFleet(options: FleetOptions): Promise<Fleet>;
export async function makeFleet({ subnet, port, displays, size, started = 0, id = (n) => `host${n}`, etcdPort, tls, memory, env: envOf }: FleetOptions): Promise<Fleet> {
  const all: TestHost[] = [];
  const hosts: FleetHost[] = [];
  let network: TestNetwork | undefined;
  let etcd: TestEtcd | undefined;
  let ca: TestCa | undefined;
  let dir: string | undefined;
  const dispose = async () => {
    const failed: unknown[] = [];
    const step = async (what: (() => Promise<unknown>) | undefined) => {
      try {
        await what?.();
      } catch (error) {
        failed.push(error);
      }
    };
    // The latest first: a host started again on its state folder of before stops before its first self, which then
    // finds nothing left to remove. SIGKILL: a test host's server has nothing to save (stop() ends its desktops).
    for (const h of [...all].reverse()) await step(() => h.stop('SIGKILL'));
    await step(etcd && (() => etcd!.dispose()));
    await step(dir ? () => rm(dir!, { recursive: true, force: true }) : undefined);
    await step(ca && (() => ca!.dispose()));
    await step(network && (() => network!.dispose()));
    if (failed.length) throw new AggregateError(failed, `the fleet's teardown: ${failed.map(String).join('; ')}`);
  };
  try {
    network = await makeNetwork(subnet);
    const scheme = tls ? 'https' : 'http';
    const addressOf = (n: number) => `10.213.${network!.subnet}.${n + 1}`;
    const urlOf = (n: number) => `${scheme}://${addressOf(n)}:${port}`;
    let trust: FleetTrust | undefined;
    if (tls) {
      ca = await makeCa('fleet');
      trust = loadFleetTrust({ FREEZEFRAME_FLEET_CA: ca.caFile });
    }
    if (etcdPort) {
      const cert = ca && (await ca.issue('etcd', [network.gateway, '127.0.0.1']));
      etcd = await startEtcd({ port: etcdPort, gateway: network.gateway, tls: cert && { ...cert, trust: trust! } });
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-fleet-'));
    const key = randomBytes(24).toString('hex');
    const keyFile = path.join(dir, 'fleet.key');
    await writeFile(keyFile, key, { mode: 0o600 });
    await chmod(dir, 0o700);
    // A static fleet's directory: every host's key made beforehand (an etcd fleet's hosts publish their own).
    const list: PeerLine[] = [];
    if (!etcd) {
      // Imported here: server/checkpoints/keys.ts is `server-only`, which Playwright's loader (without
      // server/runtime/register.js) refuses, and the e2e fleets are etcd ones.
      const { publicKeyLine } = await import('../../server/checkpoints/keys');
      for (let n = 1; n <= size; n++) list.push({ id: id(n), url: urlOf(n), publicKey: await publicKeyLine(path.join(dir, `keys-${n}`)) });
    }
    const fleet: Fleet = {
      network, key, keyFile, dir, etcd, ca, trust, hosts,
      async start(n, { peers = (l: PeerLine[]) => l, env: more = {}, stateDir } = {}) {
        const env: Record<string, string> = {
          FREEZEFRAME_HOST_ID: id(n), FREEZEFRAME_FLEET_KEY_FILE: keyFile, FREEZEFRAME_DISPLAYS: displays(n),
          ...(etcd ? { FREEZEFRAME_ETCD: etcd.url, FREEZEFRAME_PUBLIC_URL: urlOf(n) } : { FREEZEFRAME_KEY_DIR: path.join(dir!, `keys-${n}`), FREEZEFRAME_PEERS: JSON.stringify(peers(list)) }),
          ...(memory ? { FREEZEFRAME_TEST_MEM_AVAILABLE: String(memory(n)) } : {}),
          ...envOf?.(n), ...more,
        };
        if (ca) {
          const cert = await ca.issue(id(n), [addressOf(n)]);
          Object.assign(env, { FREEZEFRAME_TLS_CERT: cert.cert, FREEZEFRAME_TLS_KEY: cert.key, FREEZEFRAME_FLEET_CA: ca.caFile });
          // Next.js fetches a server action's redirect target from its own origin with Node's trust: a private CA there
          // too, as README says (without it the redirect still works, one round trip later, with an error logged).
          if (tls?.nodeExtraCaCerts) env.NODE_EXTRA_CA_CERTS = ca.caFile;
        }
        const host = await startHost(network!, n, { port, displays: displays(n), env, stateDir });
        all.push(host);
        const keyDir = env.FREEZEFRAME_KEY_DIR ?? path.join(host.stateDir, 'keys');
        const member: FleetHost = { ...host, id: id(n), keyLine: list[n - 1]?.publicKey ?? '', keyDir, env: { ...env, FREEZEFRAME_KEY_DIR: keyDir, FREEZEFRAME_STATE_DIR: host.stateDir } };
        hosts[n - 1] = member;
        return member;
      },
      async formed(timeoutMs = 30_000) {
        // Each host's lease in etcd, read back by the others: a host joins once it listens, a moment after startHost
        // returns (in CI once, host 1's page still showed one host 10 s after it opened).
        const ids = hosts.filter(Boolean).map((h) => h.id).sort();
        for (const host of hosts.filter(Boolean)) {
          await eventually(async () => {
            const response = await peerFetch(`${host.url}/api/fleet`, { headers: { Authorization: `Bearer ${host.token}` }, trust, timeoutMs: 10_000 });
            const { fleet: view } = (await response.json()) as { fleet: { fresh: boolean; hosts: { id: string }[] } };
            assert.deepEqual(view.hosts.map((h) => h.id).sort(), ids, `the fleet as ${host.url} sees it`);
            assert.equal(view.fresh, true, `${host.url}'s view is fresh`);
          }, timeoutMs);
        }
      },
      dispose,
    };
    for (let n = 1; n <= started; n++) await fleet.start(n);
    return fleet;
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }
}

/** A call to a host's API with its token; the JSON answer and the status. */
export async function api<T = Record<string, unknown>>(host: TestHost, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${host.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((error: Error) => {
    const cause = error.cause as { code?: string; message?: string } | undefined;
    throw new Error(`${method} ${host.name}${route}: ${error.message} (${cause?.code ?? cause?.message})`, { cause: error });
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** A desktop started on host (640x480, xclock: its picture moves every second); its id. */
export async function startDesktop(host: TestHost): Promise<string> {
  const { status, body } = await api<{ desktop: { id: string } }>(host, 'POST', '/api/desktops', { geometry: '640x480', apps: ['xclock'] });
  assert.equal(status, 201, JSON.stringify(body));
  return body.desktop.id;
}

/** A viewer of a desktop over a host's bridge, as the page's noVNC: the WebSocket, the RFB session, its close code. */
export class HostViewer {
  closed: Promise<number>;
  closedWith: number | undefined;
  private constructor(readonly ws: WebSocket, readonly rfb: RfbClient) {
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve((this.closedWith = code))));
  }

  static async open(host: TestHost, desktop: string): Promise<HostViewer> {
    const { body } = await api<{ vncPassword: string }>(host, 'GET', `/api/desktops/${desktop}`);
    const ws = new WebSocket(`ws://${host.address}:${host.port}/api/desktops/${desktop}/vnc`, ['binary'], {
      perMessageDeflate: false, headers: { Authorization: `Bearer ${host.token}` },
    });
    ws.on('error', () => {});
    // Listening from the first byte: the RFB greeting can come in the same read as the upgrade's answer, and is
    // emitted before an await on 'open' resumes.
    const transport = wsTransport(ws);
    await within(once(ws, 'open'), 15_000, `the WebSocket opening on ${host.name}`);
    const rfb = await within(RfbClient.over(transport, { password: body.vncPassword }), 15_000, `the RFB handshake with ${desktop} on ${host.name}`);
    return new HostViewer(ws, rfb);
  }

  /** The picture moves: n more updates (xclock's second hand) within the deadline. */
  async moves(n = 2, timeoutMs = 15_000): Promise<void> {
    for (let i = 0; i < n; i++) await this.rfb.nextUpdate(timeoutMs);
  }

  close(): void {
    this.ws.terminate();
  }
}
