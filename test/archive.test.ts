// Checkpoints as archives: export, delete, import, restore; archives that must be refused, unpacked or not; and
// signatures: only archives signed by this installation or a key it trusts are imported.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
import { writeSignedArchive } from '../server/checkpoints/signing';
import { withEngine } from './support/engineFixture';

describe('checkpoint archives', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  let scratch: string;
  before(async () => {
    ({ engine, dispose } = await withEngine('20-29'));
    scratch = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-archives-'));
  });
  after(async () => {
    await dispose();
    await rm(scratch, { recursive: true, force: true });
  });

  test('export, delete, import, restore', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const file = path.join(scratch, `${checkpoint.id}.tar.zst`);
    const exported = await desktops.exportCheckpoint(checkpoint.id, file);
    assert.ok(exported.bytes > 100_000 && exported.bytes <= checkpoint.imageBytes! / 2, `zstd: ${exported.bytes} of ${checkpoint.imageBytes}`);
    assert.equal((await readFile(file)).subarray(0, 4).toString('hex'), '28b52ffd', 'zstd magic');
    const entries = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
    assert.ok(entries.includes('./manifest.json') && entries.includes('./signature.json'), 'signed');

    await desktops.stop(desktop.id);
    await desktops.deleteCheckpoint(checkpoint.id);
    await assert.rejects(desktops.getCheckpoint(checkpoint.id), /no checkpoint/);

    const imported = await desktops.importCheckpoint(file);
    assert.equal(imported.checkpoint.id, checkpoint.id);
    assert.ok(imported.checkpoint.importedAt, 'marked as imported');
    await assert.rejects(desktops.importCheckpoint(file), (e: unknown) => e instanceof FreezeframeError && /here already/.test(e.message));
    const restored = await desktops.restore(checkpoint.id);
    assert.equal(restored.desktop.state, 'running');
    assert.deepEqual(await readdir(engine.desktops.paths.imports()), [], 'no unpacked leftovers');
    const kept = await readdir(engine.desktops.paths.checkpointDir(checkpoint.id));
    assert.ok(!kept.includes('manifest.json') && !kept.includes('signature.json'), `a checkpoint folder like any other: ${kept}`);

    // Exported again after that restore, which left criu's pidfile in the folder: the archive passes every check and
    // the signature (refused only as here already), without the pidfile.
    assert.ok(kept.includes('restore.pid'), `${kept}`);
    const again = path.join(scratch, 'again.tar.zst');
    await desktops.exportCheckpoint(checkpoint.id, again);
    assert.ok(!execFileSync('tar', ['-tf', again], { encoding: 'utf8' }).includes('restore.pid'));
    await assert.rejects(desktops.importCheckpoint(again), (e: unknown) => e instanceof FreezeframeError && /here already/.test(e.message));

    // An archive as export wrote them before zstd (gzip, the same signed entries) is still imported.
    const gzipped = path.join(scratch, 'older.tar.gz');
    execFileSync('sh', ['-c', 'zstd -dcq "$1" | gzip -1 > "$2"', 'sh', again, gzipped]);
    await desktops.stop(desktop.id);
    await desktops.deleteCheckpoint(checkpoint.id);
    assert.equal((await desktops.importCheckpoint(gzipped)).checkpoint.id, checkpoint.id);
    assert.equal((await desktops.restore(checkpoint.id)).desktop.state, 'running');
  });

  test('refuses archives that are not plain checkpoints, and unpacks nothing of them', async () => {
    const { desktops } = engine;
    const src = path.join(scratch, 'src');
    await mkdir(path.join(src, 'images'), { recursive: true });
    await writeFile(path.join(src, 'checkpoint.json'), '{}');
    await writeFile(path.join(src, 'images', 'inventory.img'), 'x');
    const make = (name: string, ...args: string[]) => {
      const file = path.join(scratch, name);
      execFileSync('tar', ['-C', src, '-czf', file, ...args]);
      return file;
    };
    const cases: [string, string][] = [];
    cases.push([make('traversal.tar.gz', '-P', '--transform', 's,^\\./images/inventory.img,../../evil,', '.'), 'which no checkpoint has']);
    await symlink('/etc/passwd', path.join(src, 'images', 'link.img'));
    cases.push([make('link.tar.gz', '.'), 'no plain file']);
    await rm(path.join(src, 'images', 'link.img'));
    await writeFile(path.join(src, 'extra.sh'), 'echo hi');
    cases.push([make('extra.tar.gz', '.'), 'which no checkpoint has']);
    await rm(path.join(src, 'extra.sh'));
    // Signed here, so it passes the trust check and meets the record's.
    await writeSignedArchive(src, path.join(scratch, 'empty-record.tar.zst'), engine.config.keyDir);
    cases.push([path.join(scratch, 'empty-record.tar.zst'), 'no complete Freezeframe checkpoint']);
    const notGzip = path.join(scratch, 'plain.txt');
    await writeFile(notGzip, 'hello');
    cases.push([notGzip, 'not a zstd or gzip tar archive']);

    for (const [file, why] of cases) {
      await assert.rejects(desktops.importCheckpoint(file), (e: unknown) => {
        assert.ok(e instanceof FreezeframeError, String(e));
        assert.equal(e.code, 'invalid', `${path.basename(file)}: ${e.message}`);
        assert.ok(e.message.includes(why), `${path.basename(file)}: ${e.message}`);
        return true;
      });
    }
    assert.deepEqual(await readdir(engine.desktops.paths.imports()).catch(() => []), []);
    await assert.rejects(readdir(path.join(scratch, '..', 'evil')), /ENOENT/);
  });
});

describe('signed archives', () => {
  let engine: Engine;
  let dispose: () => Promise<void>;
  let scratch: string;
  before(async () => {
    ({ engine, dispose } = await withEngine('20-29'));
    scratch = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-signed-'));
  });
  after(async () => {
    await dispose();
    await rm(scratch, { recursive: true, force: true });
  });

  const cli = (keyDir: string, ...args: string[]) =>
    execFileSync(path.resolve('bin/freezeframe.js'), args, { encoding: 'utf8', env: { ...process.env, FREEZEFRAME_KEY_DIR: keyDir } });

  /** An import refused as untrusted, whose message says why; and nothing of it registered. */
  async function refused(file: string, ...why: string[]): Promise<void> {
    const { desktops } = engine;
    const before = { desktops: await desktops.list(), checkpoints: await desktops.checkpoints() };
    await assert.rejects(desktops.importCheckpoint(file), (e: unknown) => {
      assert.ok(e instanceof FreezeframeError, String(e));
      assert.equal(e.code, 'untrusted', `${path.basename(file)}: ${e.message}`);
      for (const w of why) assert.ok(e.message.includes(w), `${path.basename(file)}: "${w}" not in: ${e.message}`);
      return true;
    });
    assert.deepEqual(await desktops.list(), before.desktops, 'no desktop created');
    assert.deepEqual(await desktops.checkpoints(), before.checkpoints, 'no checkpoint created');
    assert.deepEqual(await readdir(desktops.paths.imports()), [], 'no unpacked leftovers');
  }

  test('tampered, unsigned and foreign archives are refused; a foreign one is imported once its key is trusted', async () => {
    const { desktops } = engine;
    const desktop = await desktops.start({ geometry: '640x480', apps: ['xclock'] });
    const { checkpoint } = await desktops.checkpoint(desktop.id);
    const genuine = path.join(scratch, 'genuine.tar.zst');
    await desktops.exportCheckpoint(checkpoint.id, genuine);
    // As on a machine that never had it: the checkpoint and its desktop are gone, so an import would create both.
    await desktops.stop(desktop.id);
    await desktops.deleteCheckpoint(checkpoint.id);
    await rm(desktops.paths.desktopDir(desktop.id), { recursive: true });

    const unpacked = path.join(scratch, 'unpacked');
    await mkdir(unpacked);
    execFileSync('tar', ['-C', unpacked, '-xf', genuine]);
    const pack = (name: string) => {
      execFileSync('tar', ['-C', unpacked, '-czf', path.join(scratch, name), '.']);
      return path.join(scratch, name);
    };
    const image = (await readdir(path.join(unpacked, 'images'))).find((f) => f.startsWith('pages-'))!;
    const imageFile = path.join(unpacked, 'images', image);
    const original = await readFile(imageFile);
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1] ^= 0x01;

    // One bit of one image, under the original manifest and signature.
    await writeFile(imageFile, flipped);
    await refused(pack('flipped.tar.gz'), `images/${image} is not the file that was signed`);
    // The same, with the manifest rewritten to the new hash: the signature no longer matches it.
    const manifestFile = path.join(unpacked, 'manifest.json');
    const manifest = await readFile(manifestFile, 'utf8');
    const entry = JSON.parse(manifest).files.find((f: { path: string }) => f.path === `images/${image}`);
    const newHash = execFileSync('sha256sum', [imageFile], { encoding: 'utf8' }).split(' ')[0];
    await writeFile(manifestFile, manifest.replace(entry.sha256, newHash));
    await refused(pack('remanifested.tar.gz'), 'does not match the archive\'s manifest');
    await writeFile(manifestFile, manifest);
    await writeFile(imageFile, original);

    // A file added to a genuine archive.
    await writeFile(path.join(unpacked, 'images', 'extra.img'), 'x');
    await refused(pack('added.tar.gz'), 'holds images/extra.img, which its signed manifest does not list');
    await rm(path.join(unpacked, 'images', 'extra.img'));

    // No signature at all: a plain tar of the checkpoint's files, as archives were before signing.
    await rm(manifestFile);
    await rm(path.join(unpacked, 'signature.json'));
    await refused(pack('unsigned.tar.gz'), 'not signed', 'freezeframe key', `freezeframe trust`, path.join(engine.config.keyDir, 'trusted-keys'));

    // Signed by another installation (a key folder of its own), as its export does.
    const otherKeys = path.join(scratch, 'other-keys');
    const foreign = path.join(scratch, 'foreign.tar.zst');
    await writeSignedArchive(unpacked, foreign, otherKeys);
    const otherLine = cli(otherKeys, 'key').trim();
    await refused(foreign, `signed by ${otherLine.split(' ')[0]}`, 'does not trust', 'freezeframe trust');

    const trusted = JSON.parse(cli(engine.config.keyDir, 'trust', otherLine));
    assert.deepEqual(trusted, { key: otherLine.split(' ')[0], name: os.hostname(), file: path.join(engine.config.keyDir, 'trusted-keys'), added: true });
    const imported = await desktops.importCheckpoint(foreign);
    assert.equal(imported.checkpoint.id, checkpoint.id);
    assert.equal(imported.desktop.state, 'stopped');
    const restored = await desktops.restore(checkpoint.id);
    assert.equal(restored.desktop.state, 'running');
    await desktops.stop(desktop.id);
  });
});
