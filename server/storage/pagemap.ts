// CRIU's pagemap images (pagemap-<pid>.img): read into entries and written back, byte for byte as criu writes them.
// An entry says where a run of pages of a process lives: in this checkpoint's pages file (PE_PRESENT), or in the
// parent images (PE_PARENT: criu restore reads them from images/parent, see dedup.ts).
import { decodeProto, imageEntries } from '../criu/images';
import { encodeVarint } from '../criu/varint';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fingerprint, KeptReads } from './keptReads';

export const PE_PARENT = 1;
export const PE_LAZY = 2;
export const PE_PRESENT = 4;
export const pageSize = 4096;

export interface PagemapEntry {
  vaddr: bigint;
  nrPages: number;
  flags: number;
}

export interface Pagemap {
  /** The two magics criu opens the image with. */
  magic: Buffer;
  /** pages-<pagesId>.img holds this process's present pages, in entry order. */
  pagesId: number;
  entries: PagemapEntry[];
}

const num = (v: bigint | Uint8Array | undefined) => (typeof v === 'bigint' ? v : 0n);

export function parsePagemap(buf: Buffer): Pagemap {
  const [head, ...rest] = imageEntries(buf);
  const pagesId = Number(num(decodeProto(head).get(1)?.[0]));
  const entries = rest.map((e) => {
    const f = decodeProto(e);
    // criu 4 writes the count as field 5 (uint64), the old field 2 as 0.
    const nrPages = Number(num(f.get(5)?.[0]) || num(f.get(2)?.[0]));
    const flags = f.has(4) ? Number(num(f.get(4)?.[0])) : num(f.get(3)?.[0]) ? PE_PARENT : PE_PRESENT;
    return { vaddr: num(f.get(1)?.[0]), nrPages, flags };
  });
  return { magic: buf.subarray(0, 8), pagesId, entries };
}

function message(bytes: number[]): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32LE(bytes.length);
  return Buffer.concat([size, Buffer.from(bytes)]);
}

export function writePagemap(map: Pagemap): Buffer {
  return Buffer.concat([
    map.magic,
    message([0x08, ...encodeVarint(map.pagesId)]),
    ...map.entries.map((e) => message([0x08, ...encodeVarint(e.vaddr), 0x10, 0x00, 0x20, ...encodeVarint(e.flags), 0x28, ...encodeVarint(e.nrPages)])),
  ]);
}

/** Page address -> byte offset of that page in the pages file, for every present page of a pagemap. */
export function presentPages(map: Pagemap): Map<bigint, number> {
  const pages = new Map<bigint, number>();
  let offset = 0;
  for (const e of map.entries) {
    if (!(e.flags & PE_PRESENT)) continue;
    for (let i = 0; i < e.nrPages; i++) pages.set(e.vaddr + BigInt(i * pageSize), offset + i * pageSize);
    offset += e.nrPages * pageSize;
  }
  return pages;
}

/**
 * Whether some pages of these images are not in them: a lazy dump (criu/lazyDump.ts) marks the pages it leaves
 * out PE_LAZY alone. Every other dump marks the pages a lazy restore may fill later PE_LAZY | PE_PRESENT, and
 * writes them (measured: xclock's desktop, flags 4 and 6 in a dump, 4 and 2 in a lazy dump).
 */
export async function hasLazyPages(imagesDir: string): Promise<boolean> {
  // Synchronously: a handful of small files in the page cache, on every restore's path, where each read through
  // libuv's thread pool costs more than the read (as the trust check's, criu/trust.ts). Kept while the pagemaps are
  // unchanged: decoding Firefox's took 3-5.5 ms of its lazy restore's path, their fingerprint ~0.1 ms.
  const names = readdirSync(imagesDir).filter((n) => /^pagemap-\d+\.img$/.test(n));
  return lazyKept.get(imagesDir, fingerprint(imagesDir, names), () =>
    names.some((n) => parsePagemap(readFileSync(path.join(imagesDir, n))).entries.some(notInImages))).value;
}

const lazyKept = new KeptReads<boolean>(64);

/** A lazy dump's entry whose pages only its page server has. */
export const notInImages = (e: PagemapEntry): boolean => (e.flags & PE_LAZY) !== 0 && (e.flags & PE_PRESENT) === 0;
