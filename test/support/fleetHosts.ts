// A fleet of test hosts for moves (test/support/testHosts.ts underneath): a signing key made for each beforehand, so
// every host's static peers directory (FREEZEFRAME_PEERS) can list the others' keys, and one fleet key for all.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { publicKeyLine } from '../../server/checkpoints/keys';
import { RfbClient, wsTransport } from '../../server/vnc/rfbClient';
import { makeNetwork, startHost, type TestHost, type TestNetwork } from './testHosts';
import { within } from './within';

export interface FleetHost extends TestHost {
  id: string;
  keyLine: string;
  /** Its FREEZEFRAME_KEY_DIR (signing key, trusted keys). */
  keyDir: string;
  /** The environment its server runs with (the fleet's part and its state folder): what its CLI needs too. */
  env: Record<string, string>;
}

export interface Fleet {
  network: TestNetwork;
  key: string;
  /** Starts host n (address .n+1) with the fleet's list; `peers` rewrites the list this one host sees. */
  start(n: number, options?: { peers?: (list: PeerLine[]) => PeerLine[]; env?: Record<string, string>; stateDir?: string }): Promise<FleetHost>;
  dispose(): Promise<void>;
}

export interface PeerLine {
  id: string;
  url: string;
  publicKey: string;
}

export async function makeFleet({ subnet, port, displays, size }: { subnet: number; port: number; displays: (n: number) => string; size: number }): Promise<Fleet> {
  const network = await makeNetwork(subnet);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-fleet-'));
  const key = randomBytes(24).toString('hex');
  const keyFile = path.join(dir, 'fleet.key');
  await writeFile(keyFile, key, { mode: 0o600 });
  await chmod(dir, 0o700);
  const list: PeerLine[] = [];
  for (let n = 1; n <= size; n++) {
    const keyDir = path.join(dir, `keys-${n}`);
    list.push({ id: `host${n}`, url: `http://10.213.${network.subnet}.${n + 1}:${port}`, publicKey: await publicKeyLine(keyDir) });
  }
  const hosts: TestHost[] = [];
  return {
    network, key,
    async start(n, { peers = (l: PeerLine[]) => l, env: more = {}, stateDir } = {}) {
      const env = {
        FREEZEFRAME_HOST_ID: `host${n}`, FREEZEFRAME_KEY_DIR: path.join(dir, `keys-${n}`),
        FREEZEFRAME_FLEET_KEY_FILE: keyFile, FREEZEFRAME_PEERS: JSON.stringify(peers(list)), FREEZEFRAME_DISPLAYS: displays(n), ...more,
      };
      const host = await startHost(network, n, { port, displays: displays(n), env, stateDir });
      hosts.push(host);
      return { ...host, id: `host${n}`, keyLine: list[n - 1].publicKey, keyDir: env.FREEZEFRAME_KEY_DIR, env: { ...env, FREEZEFRAME_STATE_DIR: host.stateDir } };
    },
    async dispose() {
      await Promise.all(hosts.map((h) => h.stop('SIGKILL').catch(() => {})));
      await network.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
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
