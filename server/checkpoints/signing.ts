// Signed checkpoint archives: export adds a manifest (size and sha256 of every file) signed by this installation's
// key; import restores nothing it cannot trace to this installation or a key its operator trusts.
import 'server-only';
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FreezeframeError } from '../errors';
import { notExported, writeArchive } from './archive';
import { formatKeyLine, keyFiles, parseKeyLine, signingKey, trustedKeys } from './keys';

/** The two entries signing adds at the archive's top; archive.ts allows exactly these. */
export const manifestName = 'manifest.json';
export const signatureName = 'signature.json';
const format = 'freezeframe-checkpoint-manifest/1';

export interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
}

interface Manifest {
  format: typeof format;
  files: ManifestEntry[];
}

interface Signature {
  /** The signer's public key line (`ed25519:<base64> name`). */
  signer: string;
  /** Ed25519 over the manifest file's exact bytes, base64. */
  signature: string;
}

/** Every file under folder (paths relative, `/`-separated, sorted), without the signing entries and notExported. */
async function listFiles(folder: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(path.join(folder, prefix), { withFileTypes: true })) {
    const name = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await listFiles(folder, name)));
    else if (entry.isFile()) {
      if (name !== manifestName && name !== signatureName && !notExported.includes(name)) files.push(name);
    } else throw new FreezeframeError('invalid', `${path.join(folder, name)} is no plain file: a checkpoint holds none such`);
  }
  return files.sort();
}

async function describe(folder: string, name: string): Promise<ManifestEntry> {
  const file = path.join(folder, name);
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return { path: name, size: (await stat(file)).size, sha256: hash.digest('hex') };
}

/**
 * 16 files at a time: a checkpoint is ~100 files, whose reads then overlap (an archive of many more files must not
 * open them all at once). sha256 itself runs on the main thread, a
 * 64 KiB chunk at a time, so the server keeps serving meanwhile. A default desktop's checkpoint (40 MB of images):
 * signing 137 ms, verifying 186 ms (medians of 7, 78-249 ms, on the shared 2-core machine under load 5-9), against
 * ~0.9 s for the export's tar + gzip (now zstd: ~0.1 s) and ~0.23 s for the import's unpack.
 */
async function describeAll(folder: string): Promise<ManifestEntry[]> {
  const names = await listFiles(folder);
  const entries: ManifestEntry[] = new Array(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      entries[i] = await describe(folder, names[i]);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return entries;
}

/** The manifest and signature files for a checkpoint folder, signed with this installation's key. */
export async function signFolder(folder: string, keyDir: string): Promise<{ manifest: Buffer; signature: Buffer }> {
  const key = await signingKey(keyDir);
  const manifest = Buffer.from(JSON.stringify({ format, files: await describeAll(folder) } satisfies Manifest, null, 1) + '\n');
  const signature: Signature = { signer: formatKeyLine(createPublicKey(key)), signature: sign(null, manifest, key).toString('base64') };
  return { manifest, signature: Buffer.from(JSON.stringify(signature, null, 2) + '\n') };
}

/** Writes a checkpoint folder's archive with its signed manifest as two more entries. */
export async function writeSignedArchive(folder: string, file: string, keyDir: string, options?: { level?: number }): Promise<void> {
  const signed = await signFolder(folder, keyDir);
  const extra = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-sign-'));
  try {
    await writeFile(path.join(extra, manifestName), signed.manifest, { mode: 0o600 });
    await writeFile(path.join(extra, signatureName), signed.signature, { mode: 0o600 });
    await writeArchive(folder, file, { folder: extra, names: [manifestName, signatureName] }, options);
  } finally {
    await rm(extra, { recursive: true, force: true });
  }
}

function untrusted(message: string): FreezeframeError {
  return new FreezeframeError('untrusted', `refused: ${message}`);
}

function howToTrust(keyDir: string): string {
  return (
    `If you trust the machine it was exported on, run \`freezeframe key\` there and add the line it prints to ` +
    `${keyFiles(keyDir).trustedKeys} here (\`freezeframe trust 'LINE'\`), then import again`
  );
}

/**
 * Checks an unpacked archive before anything of it is used: signed by this installation or a trusted key, and
 * every file as signed (none missing, none added, same size and sha256). Throws 'untrusted' otherwise. On success
 * the two signing files are removed, leaving the folder as a checkpoint's own; returns the signer's key line.
 */
export async function verifyFolder(folder: string, keyDir: string, alsoTrusted: string[] = []): Promise<string> {
  const read = (name: string) =>
    readFile(path.join(folder, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  const [manifestBytes, signatureBytes] = await Promise.all([read(manifestName), read(signatureName)]);
  if (!manifestBytes || !signatureBytes) {
    throw untrusted(`the archive is not signed (it has no ${manifestBytes ? signatureName : manifestName}): nothing says which machine made it, and criu would restore its images as root. Export it again with a Freezeframe that signs its archives. ${howToTrust(keyDir)}`);
  }
  let claimed: Signature;
  let signer: ReturnType<typeof parseKeyLine>;
  try {
    claimed = JSON.parse(signatureBytes.toString('utf8')) as Signature;
    signer = parseKeyLine(String(claimed.signer));
    if (typeof claimed.signature !== 'string') throw new Error('no signature');
  } catch (error) {
    throw untrusted(`the archive's ${signatureName} is malformed (${(error as Error).message})`);
  }
  const own = formatKeyLine(createPublicKey(await signingKey(keyDir)), '');
  // alsoTrusted: the fleet's hosts' key lines (server/fleet/peers.ts), for a move's archive: the operator trusts
  // the fleet's directory as a whole.
  const fleet = alsoTrusted.flatMap((line) => { try { return [parseKeyLine(line).id]; } catch { return []; } });
  if (signer.id !== own && !fleet.includes(signer.id) && !(await trustedKeys(keyDir)).some((k) => k.id === signer.id)) {
    throw untrusted(`the archive is signed by ${signer.id}${signer.name ? ` (${signer.name})` : ''}, a key this installation does not trust. ${howToTrust(keyDir)}`);
  }
  if (!verify(null, manifestBytes, signer.key, Buffer.from(claimed.signature, 'base64'))) {
    throw untrusted(`the signature of ${signer.id}${signer.name ? ` (${signer.name})` : ''} does not match the archive's manifest: it was altered after export`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    if (manifest.format !== format || !Array.isArray(manifest.files)) throw new Error(`format is not ${format}`);
  } catch (error) {
    throw untrusted(`the archive's ${manifestName} is signed but unreadable (${(error as Error).message})`);
  }
  const signed = new Map(manifest.files.map((f) => [f.path, f]));
  const present = await describeAll(folder);
  for (const file of present) {
    const expected = signed.get(file.path);
    if (!expected) throw untrusted(`the archive holds ${file.path}, which its signed manifest does not list: it was altered after export`);
    if (expected.size !== file.size || expected.sha256 !== file.sha256) {
      throw untrusted(`${file.path} is not the file that was signed (${file.size} bytes, sha256 ${file.sha256.slice(0, 16)}…; signed: ${expected.size} bytes, ${String(expected.sha256).slice(0, 16)}…): the archive was altered or damaged after export`);
    }
    signed.delete(file.path);
  }
  if (signed.size > 0) throw untrusted(`the archive lacks ${[...signed.keys()].slice(0, 3).join(', ')}, which its signed manifest lists`);
  await Promise.all([rm(path.join(folder, manifestName)), rm(path.join(folder, signatureName))]);
  return formatKeyLine(signer.key, signer.name);
}
