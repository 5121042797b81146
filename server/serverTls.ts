// HTTPS served by the server itself (FREEZEFRAME_TLS_CERT and FREEZEFRAME_TLS_KEY, PEM files): the certificate
// chain and its private key, the key refused when others can read it (as the fleet key and the signing key are).
// Neither set: plain HTTP, exactly as before.
import { readFileSync, statSync } from 'node:fs';

export interface ServerTls {
  cert: string;
  key: string;
}

export function loadServerTls(env: Record<string, string | undefined> = process.env): ServerTls | undefined {
  const certFile = env.FREEZEFRAME_TLS_CERT || undefined;
  const keyFile = env.FREEZEFRAME_TLS_KEY || undefined;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new Error(`HTTPS needs both FREEZEFRAME_TLS_CERT and FREEZEFRAME_TLS_KEY (only ${certFile ? 'the certificate' : 'the key'} is set)`);
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`${what}: cannot read ${file}: ${(error as Error).message}`);
    }
  };
  const mode = statSync(keyFile, { throwIfNoEntry: false })?.mode;
  if (mode !== undefined && (mode & 0o077) !== 0) {
    throw new Error(`the TLS key ${keyFile} (FREEZEFRAME_TLS_KEY) is readable or writable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const key = read(keyFile, 'FREEZEFRAME_TLS_KEY');
  const cert = read(certFile, 'FREEZEFRAME_TLS_CERT');
  if (!/-----BEGIN CERTIFICATE-----/.test(cert)) throw new Error(`FREEZEFRAME_TLS_CERT: ${certFile} holds no PEM certificate`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error(`FREEZEFRAME_TLS_KEY: ${keyFile} holds no PEM private key`);
  return { cert, key };
}
