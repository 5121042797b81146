// VNC authentication (RFB security type 2): the DES challenge response, and Xvnc's obfuscated password file.
import { createCipheriv, randomInt } from 'node:crypto';

/** VNC keys DES with each byte's bits in reverse order (d3des reads them least significant first). */
function vncKey(bytes: Uint8Array): Buffer {
  const key = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) {
    let b = bytes[i] ?? 0;
    let r = 0;
    for (let bit = 0; bit < 8; bit++, b >>= 1) r = (r << 1) | (b & 1);
    key[i] = r;
  }
  return key;
}

/**
 * DES-ECB. OpenSSL 3 keeps single DES in its legacy provider only; two-key triple DES with both keys equal is
 * exactly single DES (encrypt, decrypt, encrypt with one key), and is in the default provider.
 */
function des(key: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv('des-ede-ecb', Buffer.concat([key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** The answer to a 16-byte challenge: the challenge encrypted with the password (its first 8 bytes). */
export function vncAuthResponse(password: string, challenge: Buffer): Buffer {
  if (challenge.length !== 16) throw new RangeError('a VNC challenge has 16 bytes');
  return des(vncKey(Buffer.from(password, 'latin1')), challenge);
}

// The fixed key every VNC implementation obfuscates stored passwords with.
const obfuscationKey = Uint8Array.from([23, 82, 107, 6, 35, 78, 88, 7]);

function obfuscate(password: string): Buffer {
  const padded = Buffer.alloc(8);
  padded.write(password.slice(0, 8), 'latin1');
  return des(vncKey(obfuscationKey), padded);
}

/**
 * What Xvnc's -PasswordFile holds: the password, padded to 8 bytes, DES-encrypted with the fixed key; then, if
 * given, the view-only password the same way (bytes 8-15). TigerVNC lets a viewer that authenticates with the
 * second one watch, and ignores every key, pointer and clipboard message it sends (checked with a real Xvnc).
 */
export function vncPasswordFile(password: string, viewPassword?: string): Buffer {
  return viewPassword === undefined ? obfuscate(password) : Buffer.concat([obfuscate(password), obfuscate(viewPassword)]);
}

const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** 8 random characters: VNC authentication uses 8 bytes of a password, no more. */
export function newVncPassword(): string {
  return Array.from({ length: 8 }, () => alphabet[randomInt(alphabet.length)]).join('');
}
