// The installation's signing key and trusted-keys: made once even by racing callers, root-only, lines parsed strictly.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { formatKeyLine, parseKeyLine, publicKeyLine, signingKey, trustedKeys, trustKey } from '../server/checkpoints/keys';
import { FreezeframeError } from '../server/errors';

let scratch: string;
before(async () => (scratch = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-keys-'))));
after(async () => rm(scratch, { recursive: true, force: true }));

const isCode = (code: string, text: RegExp) => (e: unknown) => e instanceof FreezeframeError && e.code === code && text.test(e.message);

test('racing first uses make one key: each caller ends with it, the folder holds it alone, root-only', async () => {
  const dir = path.join(scratch, 'race', 'keys');
  // Different spellings of one folder: the per-process cache sees eight folders, so all eight read "no key",
  // make one and race to link it into place, as eight processes would.
  const spellings = [dir, `${dir}/`, `${dir}/.`, `${dir}//`, `${dir}/./`, `${dir}/../keys`, `${dir}/.//`, `${dir}/../keys/`];
  const keys = await Promise.all(spellings.map((d) => signingKey(d)));
  const lines = new Set(keys.map((k) => formatKeyLine(createPublicKey(k))));
  assert.equal(lines.size, 1, [...lines].join('\n'));
  assert.deepEqual(await readdir(dir), ['signing-key.pem'], 'no temp file left');
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(path.join(dir, 'signing-key.pem'))).mode & 0o777, 0o600);
  assert.match(await readFile(path.join(dir, 'signing-key.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
  assert.equal(await publicKeyLine(dir), [...lines][0]);
});

test('key lines: what `key` prints parses back; anything else is refused with the expected form', async () => {
  const line = await publicKeyLine(path.join(scratch, 'lines'));
  assert.match(line, new RegExp(`^ed25519:[A-Za-z0-9+/]{43}= ${os.hostname()}$`));
  const parsed = parseKeyLine(line);
  assert.equal(parsed.name, os.hostname());
  assert.equal(formatKeyLine(parsed.key, parsed.name), line);
  assert.equal(parseKeyLine(line.split(' ')[0]).name, '', 'the name is optional');
  for (const bad of ['', 'ssh-ed25519 AAAA', `ed25519:${'A'.repeat(43)}`, `ed25519:${'A'.repeat(42)}==`, `rsa:${line.slice(8)}`, `ed25519: ${line.slice(8)}`]) {
    assert.throws(() => parseKeyLine(bad), isCode('invalid', /no key line/), bad);
  }
});

test('trusted-keys: comments and names allowed, a malformed line named by its number, trust adds a key once', async () => {
  const dir = path.join(scratch, 'trust');
  const other = (await publicKeyLine(path.join(scratch, 'other'))).split(' ')[0];
  assert.deepEqual(await trustedKeys(dir), [], 'no file: no key');
  assert.deepEqual(await trustKey(dir, `${other} laptop`), { key: other, name: 'laptop', file: path.join(dir, 'trusted-keys'), added: true });
  assert.equal((await trustKey(dir, other)).added, false, 'once');
  assert.equal((await trustKey(dir, await publicKeyLine(dir))).added, false, 'its own key needs no line');
  const file = path.join(dir, 'trusted-keys');
  assert.equal(await readFile(file, 'utf8'), `${other} laptop\n`);
  await writeFile(file, `# the lab's machines\n\n${other} laptop # since monday\n`);
  assert.deepEqual((await trustedKeys(dir)).map((k) => [k.id, k.name]), [[other, 'laptop']]);
  await writeFile(file, `${other}\nssh-ed25519 AAAA me@host\n`);
  await assert.rejects(trustedKeys(dir), isCode('invalid', /trusted-keys line 2: .*no key line/));
});

test('a key folder others can write, or a private key others can read, is refused', async () => {
  const dir = path.join(scratch, 'modes');
  await trustKey(dir, (await publicKeyLine(path.join(scratch, 'modes-other'))).split(' ')[0]);
  await chmod(path.join(dir, 'trusted-keys'), 0o666);
  await assert.rejects(trustedKeys(dir), isCode('untrusted', /trusted-keys must be a file .* no one else can write .*mode 666/));
  await chmod(path.join(dir, 'trusted-keys'), 0o644);
  assert.equal((await trustedKeys(dir)).length, 1, 'readable by others is fine: public keys');
  // Another spelling of the folder: loaded from disk again, not from this process's cache.
  await chmod(path.join(dir, 'signing-key.pem'), 0o640);
  await assert.rejects(signingKey(`${dir}/.`), isCode('untrusted', /signing-key\.pem must be a file .* read or write .*chmod 600/));
  await chmod(path.join(dir, 'signing-key.pem'), 0o600);
  await chmod(dir, 0o777);
  await assert.rejects(signingKey(`${dir}//`), isCode('untrusted', /must be a folder/));
  await chmod(dir, 0o700);
  assert.ok(await signingKey(`${dir}/./`));
});
