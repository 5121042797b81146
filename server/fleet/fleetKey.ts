// The fleet's shared secret (FREEZEFRAME_FLEET_KEY_FILE, operator-provided, 0600): what one host shows another on
// host-to-host calls (Authorization: Bearer). Never written anywhere else, never in a list or an event.
import 'server-only';
import { readFileSync, statSync } from 'node:fs';

let cached: { file: string; key: string } | undefined;

/** The key, or undefined when this host is in no fleet; a file others can read is refused (as ssh does). */
export function fleetKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.FREEZEFRAME_FLEET_KEY_FILE;
  if (!file) return undefined;
  if (cached?.file === file) return cached.key;
  const s = statSync(file);
  if ((s.mode & 0o077) !== 0) throw new Error(`${file} (FREEZEFRAME_FLEET_KEY_FILE) must be readable by its owner only (chmod 600)`);
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < 16) throw new Error(`${file} (FREEZEFRAME_FLEET_KEY_FILE) holds less than 16 characters: no secret`);
  cached = { file, key };
  return key;
}
