// Probes what this machine can do: criu's version and `criu check` verdict, the CRIU features we care about, Xvnc.
import 'server-only';
import os from 'node:os';
import { execa } from 'execa';
import type { Config } from './config';
import { CriuError } from './criu/errors';
import { criuVersion, runCriu } from './criu/run';
import { keyFiles, publicKeyLine, trustedKeys } from './checkpoints/keys';

export interface Probe {
  ok: boolean;
  /** What the program said: its verdict line, or why it failed. */
  detail: string;
  hint?: string;
}

export interface Environment {
  criuPath: string;
  criuVersion: Probe;
  criuCheck: Probe;
  features: { name: string; why: string; probe: Probe }[];
  xvnc: Probe;
  /** This installation's public key line (what another machine trusts to import its archives), and whom it trusts. */
  signingKey: Probe & { trusted: string[]; trustedKeysFile: string };
  kernel: string;
  node: string;
}

/** The features worth knowing about for desktops, each with why it matters. */
export const criuFeatures: { name: string; why: string }[] = [
  { name: 'uffd', why: 'lazy restore: pages come in on demand (criu --lazy-pages)' },
  { name: 'uffd-noncoop', why: 'lazy restore of trees that fork or remap memory' },
  { name: 'network_lock_nftables', why: 'locks the desktop network with nftables instead of iptables during C/R' },
  { name: 'tcp_half_closed', why: 'dumps TCP connections one side already shut down' },
  { name: 'mem_dirty_track', why: 'incremental dumps (pre-dump) through soft-dirty page tracking' },
];

const probeTimeoutMs = 10_000;

async function probeCriu(criuPath: string, feature?: string): Promise<Probe> {
  try {
    const result = await runCriu(criuPath, 'check', feature ? { feature } : {}, { timeoutMs: probeTimeoutMs });
    return { ok: true, detail: result.stdout.trim() || 'Looks good.' };
  } catch (error) {
    if (error instanceof CriuError) {
      const { errors, hint, timedOut, exitCode } = error.failure;
      const detail = timedOut ? 'timed out' : errors.join('\n') || `exited ${exitCode}`;
      return { ok: false, detail, hint };
    }
    return { ok: false, detail: (error as Error).message };
  }
}

async function probeXvnc(): Promise<Probe> {
  // Xvnc -version prints its banner on stderr and exits 0 (older builds exit 1): judge by the banner.
  const child = await execa('Xvnc', ['-version'], { reject: false, timeout: probeTimeoutMs, stdin: 'ignore', all: true });
  const banner = /Xvnc\s+TigerVNC\s+\S+.*/.exec(child.all ?? '')?.[0];
  if (banner) return { ok: true, detail: banner.trim() };
  const missing = child.failed && /ENOENT/.test(child.message ?? '');
  const said = (child.all ?? '').trim() || child.message || `exited ${child.exitCode}`;
  return { ok: false, detail: missing ? 'Xvnc is not installed (Debian: tigervnc-standalone-server)' : said };
}

async function probeSigningKey(keyDir: string): Promise<Environment['signingKey']> {
  const trustedKeysFile = keyFiles(keyDir).trustedKeys;
  try {
    const [line, trusted] = await Promise.all([publicKeyLine(keyDir), trustedKeys(keyDir)]);
    return { ok: true, detail: line, trusted: trusted.map((k) => `${k.id}${k.name ? ` ${k.name}` : ''}`), trustedKeysFile };
  } catch (error) {
    return { ok: false, detail: (error as Error).message, trusted: [], trustedKeysFile };
  }
}

export async function probeEnvironment(config: Config): Promise<Environment> {
  const version = criuVersion(config.criuPath).then(
    (v): Probe => ({ ok: true, detail: v }),
    (error: Error): Probe => ({ ok: false, detail: error.message }),
  );
  const [criuVersionProbe, criuCheck, xvnc, signingKey, ...featureProbes] = await Promise.all([
    version,
    probeCriu(config.criuPath),
    probeXvnc(),
    probeSigningKey(config.keyDir),
    ...criuFeatures.map((f) => probeCriu(config.criuPath, f.name)),
  ]);
  return {
    criuPath: config.criuPath,
    criuVersion: criuVersionProbe,
    criuCheck,
    features: criuFeatures.map((f, i) => ({ ...f, probe: featureProbes[i] })),
    xvnc,
    signingKey,
    kernel: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
  };
}
