// Checkpoints of one desktop share their identical memory pages: a checkpoint's pages that its base checkpoint holds
// at the same address, byte for byte, are left out of its pages files and marked PE_PARENT in its pagemaps, with
// images/parent -> the base's images: criu restore reads them from there itself. flatten() makes the images whole
// again (an export must stand alone).
//
// Why pages, and this way (measured on the default desktop, 1024x768 xterm + xclock, 5 checkpoint + restore
// cycles, bench/results/storage.md): ~40 MB of images per checkpoint, 99 % of it pages-N.img; no pages file is ever
// identical between two dumps (whole-file hard links saved 0-0.3 MB), but 96-98 % of the 4 KiB pages of a dump are
// in an earlier one. criu's own incremental dumps need soft-dirty tracking, which this kernel lacks ("Dirty
// tracking is OFF"), and the state folder is on ext4 (no reflinks): so the comparison is ours, and the sharing
// criu's own parent images. One level only: every checkpoint's parent is a full one (its base), so a restore reads
// at most two image folders, and deleting a checkpoint never rewrites another.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { link, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeProto, imageEntries } from '../criu/images';
import { PE_PARENT, PE_PRESENT, pageSize, parsePagemap, presentPages, writePagemap, type Pagemap, type PagemapEntry } from './pagemap';

export const parentLink = 'parent';

/**
 * criu premaps every private mapping of a task whose images have a parent (and maps it writable), where it
 * otherwise lets the restorer map what it can itself: Chromium's address-space reservations (many GiB, PROT_NONE)
 * then fail with "Unable to map ANON_VMA: Cannot allocate memory" (e2e/apps.spec.ts, chromium preset, every run
 * with shared pages, none without). A checkpoint with a mapping this large stays whole.
 */
const largestSharedMapping = 1024 ** 3;

/** The largest mapping of any process in the images, in bytes (mm-<pid>.img, VmaEntry start/end). */
export async function largestMapping(imagesDir: string, names: string[]): Promise<number> {
  let largest = 0;
  for (const name of names.filter((n) => /^mm-\d+\.img$/.test(n))) {
    const [mm] = imageEntries(await readFile(path.join(imagesDir, name)));
    for (const vma of decodeProto(mm).get(14) ?? []) {
      const f = decodeProto(vma as Uint8Array);
      const [start, end] = [f.get(1)?.[0], f.get(2)?.[0]];
      if (typeof start === 'bigint' && typeof end === 'bigint') largest = Math.max(largest, Number(end - start));
    }
  }
  return largest;
}
const pagemapName = /^pagemap-(\d+)\.img$/;

// criu's VmaEntry.status bits (criu/include/image.h).
const VMA_AREA_REGULAR = 1 << 0;
const VMA_ANON_PRIVATE = 1 << 9;
/** Every kind of mapping but a plain private anonymous one: stack, vsyscall, vdso, file, shared, SysV, socket, vvar, aio, memfd, shadow stack, guard, uprobes. */
const notPlainAnon = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 17) | (1 << 27);

/**
 * The private anonymous mappings of a process (mm-<pid>.img), [start, end) in bytes: a page of theirs that is all
 * zeros needs no image, as criu restores such a mapping fresh (zero-filled), or, inherited from the parent task,
 * drops every page the child's pagemap does not name (mem.c restore_priv_vma_content: MADV_DONTNEED), and a lazy
 * restore's daemon answers a fault outside its pagemap with a zero page (uffd.c handle_page_fault). criu itself
 * leaves out the pages of the kernel's zero page this way; a file's private mapping is not one of these (a
 * missing page there would be the file's).
 */
async function anonymousMappings(imagesDir: string, pid: string): Promise<[bigint, bigint][]> {
  const [mm] = imageEntries(await readFile(path.join(imagesDir, `mm-${pid}.img`)));
  const out: [bigint, bigint][] = [];
  for (const vma of decodeProto(mm).get(14) ?? []) {
    const f = decodeProto(vma as Uint8Array);
    const [start, end, status] = [f.get(1)?.[0], f.get(2)?.[0], f.get(7)?.[0]];
    if (typeof start !== 'bigint' || typeof end !== 'bigint' || typeof status !== 'bigint') continue;
    const bits = Number(status);
    if (bits & VMA_AREA_REGULAR && bits & VMA_ANON_PRIVATE && !(bits & notPlainAnon)) out.push([start, end]);
  }
  return out;
}

/** The base a checkpoint's images share pages with (its checkpoint id), or undefined when they are whole. */
export async function baseOf(imagesDir: string): Promise<string | undefined> {
  const target = await readlink(path.join(imagesDir, parentLink)).catch(() => undefined);
  return target ? /^\.\.\/\.\.\/(c-[0-9a-f]+)\/images$/.exec(target)?.[1] : undefined;
}

/** The link images/parent holds for base checkpoint id (relative: the state folder may move). */
export const parentTarget = (baseId: string) => `../../${baseId}/images`;

interface Split {
  map: Pagemap;
  pages: Buffer[];
  shared: number;
  zero: number;
}

const zeroPage = Buffer.alloc(pageSize);

/**
 * One process's pagemap and pages split into what the base holds (PE_PARENT), the zero pages of its private
 * anonymous mappings (left out: see anonymousMappings), and what stays here.
 */
export function splitAgainst(map: Pagemap, pages: Buffer, base: Pagemap, basePages: Buffer, anonymous: [bigint, bigint][] = []): Split {
  const baseAt = presentPages(base);
  const entries: PagemapEntry[] = [];
  const kept: Buffer[] = [];
  let shared = 0;
  let zero = 0;
  let offset = 0;
  const inAnonymous = (vaddr: bigint) => anonymous.some(([start, end]) => start <= vaddr && vaddr < end);
  const push = (vaddr: bigint, nrPages: number, flags: number) => {
    const last = entries.at(-1);
    if (last && last.flags === flags && last.vaddr + BigInt(last.nrPages * pageSize) === vaddr) last.nrPages += nrPages;
    else entries.push({ vaddr, nrPages, flags });
  };
  for (const e of map.entries) {
    if (!(e.flags & PE_PRESENT)) {
      entries.push({ ...e });
      continue;
    }
    for (let i = 0; i < e.nrPages; i++, offset += pageSize) {
      const vaddr = e.vaddr + BigInt(i * pageSize);
      const page = pages.subarray(offset, offset + pageSize);
      const at = baseAt.get(vaddr);
      if (at !== undefined && page.equals(basePages.subarray(at, at + pageSize))) {
        push(vaddr, 1, PE_PARENT);
        shared++;
      } else if (page.equals(zeroPage) && inAnonymous(vaddr)) {
        zero++;
      } else {
        push(vaddr, 1, e.flags);
        kept.push(page);
      }
    }
  }
  return { map: { ...map, entries }, pages: kept, shared, zero };
}

export interface DedupResult {
  /** Bytes of the images before and after. */
  before: number;
  after: number;
  sharedPages: number;
  /** Zero pages of private anonymous mappings left out (see anonymousMappings). */
  zeroPages: number;
  /** Other images identical to the base's, hard-linked to them. */
  linkedFiles: number;
}

async function folderBytes(dir: string): Promise<number> {
  const names = await readdir(dir);
  const sizes = await Promise.all(names.map((n) => stat(path.join(dir, n)).then((s) => (s.isFile() ? s.size : 0), () => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}

/** Where a test stops shareWithBase, as a crash would: after the new images are written, or between the two renames. */
export type SharingStop = 'written' | 'renamed';

/**
 * Rewrites the images at imagesDir to share pages with the (whole) images of checkpoint baseId, in
 * images.dedup/ (the unchanged files hard-linked), swapped in by two renames: a crash leaves either the whole
 * images or the shared ones, and recoverImages() finishes or undoes a swap it interrupted. Left whole (shared:
 * false) when the shared images would still take more than maxShare of the whole ones: the desktop has moved on
 * from its base, and these images make the better base for the next checkpoints.
 * Besides the pages: the zero pages of private anonymous mappings go (measured, default desktop: 380 of the 804
 * pages a checkpoint did not share with its base, all in Xvnc's heap), and the other images that are byte for byte
 * the base's (files.img, fs, tty...) become hard links to the base's files (a link outlives the base's folder).
 */
export async function shareWithBase(
  imagesDir: string,
  baseId: string,
  { maxShare = 0.5, stopAfter, yieldTo }: { maxShare?: number; stopAfter?: SharingStop; yieldTo?: () => boolean } = {},
): Promise<DedupResult & { shared: boolean; yielded?: boolean }> {
  const baseDir = path.resolve(imagesDir, parentTarget(baseId));
  const names = await readdir(imagesDir);
  const before = await folderBytes(imagesDir);
  const whole = { before, after: before, sharedPages: 0, zeroPages: 0, linkedFiles: 0, shared: false };
  // Asked between steps (each a read or one process's split, ~5-60 ms): the images are left as they are.
  const yielded = { ...whole, yielded: true };
  if ((await largestMapping(imagesDir, names)) > largestSharedMapping) return whole;
  const files = new Map<string, Buffer>();
  let sharedPages = 0;
  let zeroPages = 0;
  for (const name of names) {
    const pid = pagemapName.exec(name)?.[1];
    if (!pid) continue;
    if (yieldTo?.()) return yielded;
    const baseMap = await readFile(path.join(baseDir, name)).then(parsePagemap, () => undefined);
    if (!baseMap || baseMap.entries.some((e) => e.flags & PE_PARENT)) continue;
    const map = parsePagemap(await readFile(path.join(imagesDir, name)));
    const pagesName = `pages-${map.pagesId}.img`;
    const [pages, basePages, anonymous] = await Promise.all([
      readFile(path.join(imagesDir, pagesName)), readFile(path.join(baseDir, `pages-${baseMap.pagesId}.img`)), anonymousMappings(imagesDir, pid),
    ]);
    const split = splitAgainst(map, pages, baseMap, basePages, anonymous);
    sharedPages += split.shared;
    zeroPages += split.zero;
    files.set(name, writePagemap(split.map)).set(pagesName, Buffer.concat(split.pages));
  }
  const sizes = await Promise.all([...files.keys()].map((n) => stat(path.join(imagesDir, n)).then((s) => s.size)));
  const pagesAfter = before - sizes.reduce((a, b) => a + b, 0) + [...files.values()].reduce((a, b) => a + b.length, 0);
  if (!files.size || pagesAfter > before * maxShare) return whole;
  // The rest, compared with the base's file of the same name (small: ~90 KB in all for the default desktop).
  const linked = new Set<string>();
  let linkedBytes = 0;
  await Promise.all(names.filter((n) => !files.has(n) && n !== parentLink).map(async (n) => {
    const [mine, theirs] = await Promise.all([readFile(path.join(imagesDir, n)), readFile(path.join(baseDir, n)).catch(() => undefined)]);
    if (theirs && mine.equals(theirs)) {
      linked.add(n);
      linkedBytes += mine.length;
    }
  }));
  if (yieldTo?.()) return yielded;
  const next = `${imagesDir}.dedup`;
  await rm(next, { recursive: true, force: true });
  await mkdir(next, { mode: 0o700 });
  await Promise.all([
    ...[...files].map(([name, bytes]) => writeFile(path.join(next, name), bytes, { mode: 0o600 })),
    ...names.filter((n) => !files.has(n)).map((n) => link(path.join(linked.has(n) ? baseDir : imagesDir, n), path.join(next, n))),
    symlink(parentTarget(baseId), path.join(next, parentLink)),
  ]);
  if (stopAfter === 'written') throw new Error('stopped after writing the shared images (a test)');
  if (yieldTo?.()) {
    await rm(next, { recursive: true, force: true });
    return yielded;
  }
  await swap(imagesDir, next, stopAfter);
  return { before, after: pagesAfter - linkedBytes, sharedPages, zeroPages, linkedFiles: linked.size, shared: true };
}

async function swap(imagesDir: string, next: string, stopAfter?: SharingStop): Promise<void> {
  const old = `${imagesDir}.whole`;
  await rename(imagesDir, old);
  if (stopAfter === 'renamed') throw new Error('stopped between the two renames (a test)');
  await rename(next, imagesDir);
  await rm(old, { recursive: true, force: true });
}

/**
 * Finishes or undoes a swap a crash interrupted (see shareWithBase): images/ is always whole or shared, never half.
 * Files a crash left half written (*.partial: packed pages, packed logs) go too.
 */
export async function recoverImages(imagesDir: string): Promise<void> {
  const exists = (p: string) => stat(p).then(() => true, () => false);
  for (const dir of [imagesDir, path.dirname(imagesDir), path.join(path.dirname(imagesDir), 'packed')]) {
    const partial = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.partial'));
    await Promise.all(partial.map((n) => rm(path.join(dir, n), { force: true })));
  }
  const [dedup, whole] = await Promise.all([exists(`${imagesDir}.dedup`), exists(`${imagesDir}.whole`)]);
  if (!dedup && !whole) return;
  if (!(await exists(imagesDir))) {
    if (await exists(`${imagesDir}.dedup`)) await rename(`${imagesDir}.dedup`, imagesDir);
    else if (await exists(`${imagesDir}.whole`)) await rename(`${imagesDir}.whole`, imagesDir);
  }
  await rm(`${imagesDir}.dedup`, { recursive: true, force: true });
  await rm(`${imagesDir}.whole`, { recursive: true, force: true });
}

/**
 * Whole images of a shared checkpoint in outDir (created): the pages its base holds copied back in, no parent link;
 * every other file hard-linked. For an export, which must restore on a machine without the base.
 */
export async function flatten(imagesDir: string, outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const base = await baseOf(imagesDir);
  const baseDir = base ? path.resolve(imagesDir, parentTarget(base)) : undefined;
  const names = (await readdir(imagesDir)).filter((n) => n !== parentLink);
  const rewritten = new Set<string>();
  if (baseDir) {
    for (const name of names) {
      if (!pagemapName.test(name)) continue;
      const map = parsePagemap(await readFile(path.join(imagesDir, name)));
      if (!map.entries.some((e) => e.flags & PE_PARENT)) continue;
      const baseMap = parsePagemap(await readFile(path.join(baseDir, name)));
      const pagesName = `pages-${map.pagesId}.img`;
      const [pages, basePages] = await Promise.all([readFile(path.join(imagesDir, pagesName)), readFile(path.join(baseDir, `pages-${baseMap.pagesId}.img`))]);
      const baseAt = presentPages(baseMap);
      const out: Buffer[] = [];
      let offset = 0;
      const entries = map.entries.map((e) => {
        if (e.flags & PE_PARENT) {
          for (let i = 0; i < e.nrPages; i++) {
            const at = baseAt.get(e.vaddr + BigInt(i * pageSize));
            if (at === undefined) throw new Error(`${name}: page ${(e.vaddr + BigInt(i * pageSize)).toString(16)} is in neither these images nor their base ${base}`);
            out.push(basePages.subarray(at, at + pageSize));
          }
          return { ...e, flags: PE_PRESENT };
        }
        if (e.flags & PE_PRESENT) {
          out.push(pages.subarray(offset, offset + e.nrPages * pageSize));
          offset += e.nrPages * pageSize;
        }
        return e;
      });
      await writeFile(path.join(outDir, name), writePagemap({ ...map, entries }), { mode: 0o600 });
      await writeFile(path.join(outDir, pagesName), Buffer.concat(out), { mode: 0o600 });
      rewritten.add(name).add(pagesName);
    }
  }
  await Promise.all(names.filter((n) => !rewritten.has(n)).map((n) => link(path.join(imagesDir, n), path.join(outDir, n))));
}

/**
 * What criu restore reads of a checkpoint's base (images/parent): for each pagemap here with pages in the parent,
 * the base's pagemap of that process and its pages file. Each must be there and whole (no parent of its own: one
 * level), hold every page this pagemap says it holds, and its pages file exactly the pages its pagemap lists; a
 * pages file other than a pagemap's own is never read. The trust check's part for the parent (criu/trust.ts).
 */
export function parentImageViolations(dir: string): { what: string; value: string }[] {
  const baseDir = path.join(dir, parentLink);
  const out: { what: string; value: string }[] = [];
  for (const name of readdirSync(dir).filter((n) => pagemapName.test(n))) {
    const map = parsePagemap(readFileSync(path.join(dir, name)));
    const wanted = map.entries.filter((e) => e.flags & PE_PARENT);
    if (!wanted.length) continue;
    let base: Pagemap;
    try {
      base = parsePagemap(readFileSync(path.join(baseDir, name)));
    } catch (error) {
      out.push({ what: 'pages in a parent that has no readable', value: `${name} (${(error as Error).message})` });
      continue;
    }
    if (base.entries.some((e) => e.flags & PE_PARENT)) out.push({ what: 'parent images with a parent of their own', value: name });
    const at = presentPages(base);
    const missing = wanted.find((e) => Array.from({ length: e.nrPages }, (_, i) => e.vaddr + BigInt(i * pageSize)).some((v) => !at.has(v)));
    if (missing) out.push({ what: 'pages the parent does not hold', value: `${name} at ${missing.vaddr.toString(16)}` });
    const pagesName = `pages-${base.pagesId}.img`;
    const size = statSync(path.join(baseDir, pagesName), { throwIfNoEntry: false })?.size;
    if (size !== at.size * pageSize) out.push({ what: 'a parent pages file that is not what its pagemap lists', value: `${pagesName}: ${size ?? 'missing'} bytes for ${at.size} pages` });
  }
  return out;
}

/**
 * Makes a shared checkpoint's images whole again in place (flatten into images.dedup, swapped in as shareWithBase
 * does: a crash leaves either): for a checkpoint that became its desktop's newest when the newer ones were deleted
 * (the newest restores from whole images). Its pages must be plain (packedPages.ts unpackPages).
 */
export async function unshare(imagesDir: string): Promise<void> {
  const next = `${imagesDir}.dedup`;
  await rm(next, { recursive: true, force: true });
  await flatten(imagesDir, next);
  await swap(imagesDir, next);
}
