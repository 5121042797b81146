// The real server (server/main.ts on its production build), bound to 0.0.0.0 with a token or to loopback, for the
// access and security tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface ExposedServer {
  /** What the server printed up to its "Freezeframe on" line (the URL with its token). */
  banner: string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  port: number;
  displays: string;
  /** Bound to 0.0.0.0 by default (exposed: the token is needed); 127.0.0.1 for a loopback server. */
  host?: string;
  token?: string;
  env?: Record<string, string>;
}

export async function startExposedServer({ port, token, displays, host = '0.0.0.0', env = {} }: ServerOptions): Promise<ExposedServer> {
  await access('.next/BUILD_ID').catch(() => {
    throw new Error('the dashboard is not built: run `npx next build` first (scripts/test.sh does)');
  });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-exposed-'));
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--import', './server/runtime/register.js', 'server/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: host,
      ...(token ? { FREEZEFRAME_TOKEN: token } : {}),
      FREEZEFRAME_DEFAULT_DESKTOP: '0',
      FREEZEFRAME_STATE_DIR: stateDir,
      FREEZEFRAME_DISPLAYS: displays,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let banner = '';
  for await (const chunk of server.stdout!) {
    banner += chunk;
    if (banner.includes('Freezeframe on')) break;
  }
  return {
    banner,
    async stop() {
      server.kill('SIGTERM');
      if (server.exitCode === null) await once(server, 'exit');
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
