// Builds the one set of server objects (config, desktops) that the HTTP server, the CLI and the tests share.
import 'server-only';
import { loadConfig, type Config } from './config';
import { applyRcuExpedited } from './criu/rcu';
import { Desktops } from './desktops/registry';
import { adoptOrphans } from './desktops/processes';
import type { Fleet } from './fleet/fleet';

export interface Engine {
  config: Config;
  desktops: Desktops;
  /** In a fleet (FREEZEFRAME_ETCD): set by server/main.ts once it joined; absent on a single host and in the CLI. */
  fleet?: Fleet;
}

export async function createEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const config = loadConfig(env);
  // FREEZEFRAME_RCU_EXPEDITED=1: criu's restores stop waiting for normal RCU grace periods (criu/rcu.ts).
  const rcu = applyRcuExpedited(env);
  if (rcu.error) console.warn(`[freezeframe] ${rcu.error}`);
  // Desktop roots are orphaned by design (newns and `criu restore -d` exit); this process adopts and reaps them.
  adoptOrphans();
  const desktops = new Desktops(config);
  await desktops.init();
  return { config, desktops };
}
