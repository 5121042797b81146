// The secret the fleet's hosts share (FREEZEFRAME_FLEET_KEY_FILE, operator-provided, 0600): sent as a bearer on
// host-to-host calls (relay, forwarded starts, moves), accepted like the token. Never written anywhere else, never in
// a list or an event; a file others can read is refused, as the signing key is (checkpoints/keys.ts) and as ssh does.
import 'server-only';
import { readFileSync, statSync } from 'node:fs';

let cached: { file: string; key: string } | undefined;

/** The key in file, checked: the owner's alone, at least 16 characters. */
function readChecked(file: string): string {
  const info = statSync(file);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`the fleet key ${file} (FREEZEFRAME_FLEET_KEY_FILE) is readable or writable by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < 16) throw new Error(`the fleet key ${file} (FREEZEFRAME_FLEET_KEY_FILE) is too short (at least 16 characters)`);
  return key;
}

export async function readFleetKey(file: string): Promise<string> {
  return readChecked(file);
}

/** The key, or undefined when this host is in no fleet; read once per file. */
export function fleetKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.FREEZEFRAME_FLEET_KEY_FILE;
  if (!file) return undefined;
  if (cached?.file === file) return cached.key;
  cached = { file, key: readChecked(file) };
  return cached.key;
}
