// A real etcd (Debian's etcd-server 3.4) for a test: a throwaway data folder, client URLs on loopback and, for test
// hosts, on their network's gateway address; never any other address. Stops and starts again on the same data
// (etcd unreachable, then back). Over https with a certificate given (test/fleetTls.test.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { peerFetch, type FleetTrust } from '../../server/fleet/peerCall';
import { eventually } from './eventually';

export interface TestEtcd {
  /** What FREEZEFRAME_ETCD gets: the gateway's URL when there is one (what the test hosts can reach), else loopback. */
  url: string;
  loopbackUrl: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** tls: etcd serves its clients over https with this certificate (for the gateway and 127.0.0.1), trusted as trust says. */
export async function startEtcd({ port, gateway, tls }: { port: number; gateway?: string; tls?: { cert: string; key: string; trust: FleetTrust } }): Promise<TestEtcd> {
  await execa('etcd', ['--version']).catch(() => {
    throw new Error('no etcd: install Debian\'s etcd-server (scripts/install.sh does)');
  });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-etcd-'));
  const scheme = tls ? 'https' : 'http';
  const loopbackUrl = `${scheme}://127.0.0.1:${port}`;
  const url = gateway ? `${scheme}://${gateway}:${port}` : loopbackUrl;
  const peerUrl = `http://127.0.0.1:${port + 1}`;
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    log = '';
    child = spawn('etcd', [
      '--name', 'test', '--data-dir', dataDir,
      '--listen-client-urls', [loopbackUrl, ...(gateway ? [url] : [])].join(','),
      '--advertise-client-urls', url,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `test=${peerUrl}`,
      '--log-level', 'error',
      ...(tls ? ['--cert-file', tls.cert, '--key-file', tls.key] : []),
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk) => (log += chunk));
    const exited = once(child, 'exit');
    await Promise.race([
      eventually(async () => {
        const r = await peerFetch(`${loopbackUrl}/health`, { signal: AbortSignal.timeout(500), trust: tls?.trust });
        if (!r.ok || !(await r.json() as { health?: string }).health) throw new Error('etcd not healthy yet');
      }, 15_000),
      exited.then(() => {
        throw new Error(`etcd exited before it served:\n${log}`);
      }),
    ]);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = once(c, 'exit');
      c.kill('SIGTERM');
      await exited;
    }
  };
  await start();
  return {
    url, loopbackUrl, start, stop,
    async dispose() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
