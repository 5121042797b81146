// A throwaway certificate authority for the TLS tests, made with openssl: a CA, and certificates it signs for the
// names and addresses given (subjectAltName), keys 0600 as FREEZEFRAME_TLS_KEY wants them.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export interface TestCa {
  dir: string;
  /** The CA's certificate (what FREEZEFRAME_FLEET_CA gets). */
  caFile: string;
  /** A certificate signed by this CA for names (IP addresses or DNS names): its PEM files. */
  issue(label: string, names: string[]): Promise<{ cert: string; key: string }>;
  dispose(): Promise<void>;
}

const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function makeCa(name: string): Promise<TestCa> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `freezeframe-ca-${name}-`));
  const caFile = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca.key');
  await execa('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', `/CN=${name} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return {
    dir, caFile,
    async issue(label, names) {
      const key = path.join(dir, `${label}.key`);
      const csr = path.join(dir, `${label}.csr`);
      const cert = path.join(dir, `${label}.pem`);
      const ext = path.join(dir, `${label}.ext`);
      await writeFile(ext, `subjectAltName=${names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      await execa('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${label}`]);
      await execa('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
      await chmod(key, 0o600);
      return { cert, key };
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
