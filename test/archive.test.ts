// Checkpoints as archives: export, delete, import, restore; and archives that must be refused, unpacked or not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '../server/engine';
import { FreezeframeError } from '../server/errors';
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
    const file = path.join(scratch, `${checkpoint.id}.tar.gz`);
    const exported = await desktops.exportCheckpoint(checkpoint.id, file);
    assert.ok(exported.bytes > 100_000 && exported.bytes < checkpoint.imageBytes!, `gzip: ${exported.bytes} of ${checkpoint.imageBytes}`);

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
    cases.push([make('empty-record.tar.gz', '.'), 'no complete Freezeframe checkpoint']);
    const notGzip = path.join(scratch, 'plain.txt');
    await writeFile(notGzip, 'hello');
    cases.push([notGzip, 'not a gzip tar archive']);

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
