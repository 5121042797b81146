// A real engine on a throwaway state directory: real newns, Xvnc and criu; every desktop is stopped afterwards.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEngine, type Engine } from '../../server/engine';

export async function withEngine(displays: string, env: Record<string, string> = {}): Promise<{ engine: Engine; dispose: () => Promise<void> }> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-test-'));
  // A key of its own too: the machine's /etc/freezeframe stays untouched, and no test trusts another's key by chance.
  const keyDir = path.join(stateDir, 'keys');
  const engine = await createEngine({ ...process.env, FREEZEFRAME_STATE_DIR: stateDir, FREEZEFRAME_KEY_DIR: keyDir, FREEZEFRAME_DISPLAYS: displays, ...env });
  return {
    engine,
    dispose: async () => {
      for (const d of await engine.desktops.list()) {
        if (d.state !== 'stopped') await engine.desktops.stop(d.id).catch(() => {});
      }
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
