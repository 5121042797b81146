// Builds the one set of server objects (config, desktops) that the HTTP server, the CLI and the tests share.
import 'server-only';
import { loadConfig, type Config } from './config';
import { Desktops } from './desktops/registry';
import { adoptOrphans } from './desktops/processes';

export interface Engine {
  config: Config;
  desktops: Desktops;
}

export async function createEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const config = loadConfig(env);
  // Desktop roots are orphaned by design (newns and `criu restore -d` exit); this process adopts and reaps them.
  adoptOrphans();
  const desktops = new Desktops(config);
  await desktops.init();
  return { config, desktops };
}
