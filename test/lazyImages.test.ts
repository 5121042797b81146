// Which images lack pages (a lazy dump's, criu/lazyDump.ts) and which only mark them fit for a lazy restore.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { hasLazyPages, PE_LAZY, PE_PRESENT, writePagemap } from '../server/storage/pagemap';

async function imagesWith(flags: number[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freezeframe-lazyimages-'));
  const entries = flags.map((f, i) => ({ vaddr: BigInt(0x10000 * (i + 1)), nrPages: 2, flags: f }));
  await writeFile(path.join(dir, 'pagemap-1.img'), writePagemap({ magic: Buffer.alloc(8), pagesId: 1, entries }));
  await writeFile(path.join(dir, 'pagemap-5.img'), writePagemap({ magic: Buffer.alloc(8), pagesId: 2, entries: [{ vaddr: 0x1000n, nrPages: 1, flags: PE_PRESENT }] }));
  return dir;
}

test('a dump marks pages PE_LAZY | PE_PRESENT and has them; a lazy dump marks those it left out PE_LAZY alone', async () => {
  const dump = await imagesWith([PE_PRESENT, PE_LAZY | PE_PRESENT]);
  const lazy = await imagesWith([PE_PRESENT, PE_LAZY]);
  try {
    assert.equal(await hasLazyPages(dump), false, 'a dump has all its pages');
    assert.equal(await hasLazyPages(lazy), true, 'a lazy dump lacks its lazy pages');
  } finally {
    await Promise.all([rm(dump, { recursive: true }), rm(lazy, { recursive: true })]);
  }
});
