// The secret the fleet's hosts share (FREEZEFRAME_FLEET_KEY_FILE): sent as a bearer on host-to-host calls, accepted
// like the token. Operator-provided; a file others can read is refused, as the signing key is (checkpoints/keys.ts).
import { readFile, stat } from 'node:fs/promises';

export async function readFleetKey(file: string): Promise<string> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`the fleet key ${file} is readable or writable by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const key = (await readFile(file, 'utf8')).trim();
  if (key.length < 16) throw new Error(`the fleet key ${file} is too short (at least 16 characters)`);
  return key;
}
