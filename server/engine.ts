// Builds the one set of server objects (config, desktops) that the HTTP server, the CLI and the tests share.
import 'server-only';
import { loadConfig, type Config } from './config';
import { Desktops } from './desktops/registry';

export interface Engine {
  config: Config;
  desktops: Desktops;
}

export async function createEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const config = loadConfig(env);
  const desktops = new Desktops(config);
  await desktops.init();
  return { config, desktops };
}
