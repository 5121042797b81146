// This installation's Ed25519 signing key (made once, atomically, root-only) and the other machines' keys it trusts.
import 'server-only';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { appendFile, link, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FreezeframeError } from '../errors';

/** A public key as the CLI prints it and trusted-keys lists it: `ed25519:<base64 of the 32 raw bytes> [name]`. */
export interface PublicKeyLine {
  /** `ed25519:<base64>`: what identifies the key; the name is only a reminder of where it came from. */
  id: string;
  name: string;
  key: KeyObject;
}

export const keyFiles = (keyDir: string) => ({
  privateKey: path.join(keyDir, 'signing-key.pem'),
  trustedKeys: path.join(keyDir, 'trusted-keys'),
});

/** The line `freezeframe key` prints for a public key. */
export function formatKeyLine(key: KeyObject, name = os.hostname()): string {
  const raw = Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url');
  return `ed25519:${raw.toString('base64')}${name ? ` ${name}` : ''}`;
}

/** Parses one key line (a trailing name allowed); throws 'invalid' saying what is wrong with it. */
export function parseKeyLine(line: string): PublicKeyLine {
  const m = /^ed25519:([A-Za-z0-9+/]{43}=)(?:\s+(\S.*))?$/.exec(line.trim());
  if (!m) throw new FreezeframeError('invalid', `"${line.trim().slice(0, 80)}" is no key line: it must look like "ed25519:<44 base64 characters> [name]", as \`freezeframe key\` prints it`);
  const raw = Buffer.from(m[1], 'base64');
  if (raw.length !== 32) throw new FreezeframeError('invalid', `"${m[1]}" is not 32 bytes: no Ed25519 public key`);
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  return { id: `ed25519:${m[1]}`, name: m[2]?.trim() ?? '', key };
}

/**
 * Refuses a key file or folder others could write (they could make this machine trust their archives, whose images
 * criu restores as root), and a private key others could read, as ssh does.
 */
async function assertPrivate(file: string, what: 'folder' | 'private key' | 'trusted keys'): Promise<void> {
  const s = await lstat(file);
  const uid = process.getuid?.() ?? s.uid;
  const forbidden = what === 'private key' ? 0o077 : 0o022;
  if (s.uid !== uid || (s.mode & forbidden) !== 0 || (what === 'folder' ? !s.isDirectory() : !s.isFile())) {
    throw new FreezeframeError(
      'untrusted',
      `${file} must be a ${what === 'folder' ? 'folder' : 'file'} owned by uid ${uid} that no one else can ${what === 'private key' ? 'read or write' : 'write'} ` +
        `(it is mode ${(s.mode & 0o7777).toString(8)}, owner ${s.uid}): fix it with chown ${uid} and chmod ${what === 'private key' ? 600 : 'go-w'}`,
    );
  }
}

const made = new Map<string, Promise<KeyObject>>();

/** This installation's private key, made on first need. */
export function signingKey(keyDir: string): Promise<KeyObject> {
  // One load per folder and process: signing and verifying then cost no file read; a failed load is retried.
  let key = made.get(keyDir);
  if (!key) {
    key = loadOrMake(keyDir);
    made.set(keyDir, key);
    key.catch(() => made.delete(keyDir));
  }
  return key;
}

async function loadOrMake(keyDir: string): Promise<KeyObject> {
  const file = keyFiles(keyDir).privateKey;
  const existing = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) {
    await assertPrivate(keyDir, 'folder');
    await assertPrivate(file, 'private key');
    return createPrivateKey(existing);
  }
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  await assertPrivate(keyDir, 'folder');
  // Written whole and synced under a name of its own, then linked into place: link() fails if the name exists, so
  // of two processes making a key at once one wins and both use its key; no reader sees half a key.
  const { privateKey } = generateKeyPairSync('ed25519');
  const tmp = path.join(keyDir, `.signing-key.${process.pid}.${randomBytes(4).toString('hex')}`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(tmp);
  }
  const dir = await open(keyDir, 'r');
  await dir.sync().finally(() => dir.close());
  return createPrivateKey(await readFile(file, 'utf8'));
}

/** This installation's public key line, e.g. `ed25519:Zm9v… host`. */
export async function publicKeyLine(keyDir: string): Promise<string> {
  return formatKeyLine(createPublicKey(await signingKey(keyDir)));
}

/** The keys trusted-keys lists (none if there is no such file); a line that is no key is an error, with its number. */
export async function trustedKeys(keyDir: string): Promise<PublicKeyLine[]> {
  const file = keyFiles(keyDir).trustedKeys;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  await assertPrivate(keyDir, 'folder');
  await assertPrivate(file, 'trusted keys');
  const keys: PublicKeyLine[] = [];
  text.split('\n').forEach((line, i) => {
    const content = line.replace(/#.*/, '').trim();
    if (!content) return;
    try {
      keys.push(parseKeyLine(content));
    } catch (error) {
      throw new FreezeframeError('invalid', `${file} line ${i + 1}: ${(error as Error).message}`);
    }
  });
  return keys;
}

/** Adds a key line to trusted-keys (once); returns whether it was new. Own key: nothing to add. */
export async function trustKey(keyDir: string, line: string): Promise<{ key: string; name: string; file: string; added: boolean }> {
  const parsed = parseKeyLine(line);
  const file = keyFiles(keyDir).trustedKeys;
  const own = formatKeyLine(createPublicKey(await signingKey(keyDir)), '');
  const present = own === parsed.id || (await trustedKeys(keyDir)).some((k) => k.id === parsed.id);
  if (!present) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const entry = `${parsed.id}${parsed.name ? ` ${parsed.name}` : ''}\n`;
    await appendFile(file, (text && !text.endsWith('\n') ? '\n' : '') + entry, { mode: 0o600 });
  }
  return { key: parsed.id, name: parsed.name, file, added: !present };
}
