// What a checkpoint holds, decoded from CRIU's images: its process tree with command lines, open files, sockets
// and memory per process (as checkpointctl shows for containers).
import 'server-only';
import { readFile } from 'node:fs/promises';
import { readPages } from '../storage/packedPages';
import { PE_PARENT, PE_PRESENT, parsePagemap, type Pagemap } from '../storage/pagemap';
import path from 'node:path';
import { decodeProto, imageEntries, type ProtoFields } from '../criu/images';
import { bytes, int, msg, msgs, raw, text, varints } from '../criu/protoFields';

export interface InspectedFd {
  fd: number;
  type: string;
  /** A path, a socket's addresses, a pipe's inode. */
  target: string;
}

export interface InspectedProcess {
  pid: number;
  ppid: number;
  threads: number;
  comm: string;
  cmdline: string[];
  exe?: string;
  fds: InspectedFd[];
  /** Mapped address space, and the pages written into the images. */
  vmaBytes: number;
  dumpedBytes: number;
}

export interface Inspection {
  processes: InspectedProcess[];
  sockets: { id: number; kind: 'tcp' | 'udp' | 'unix'; description: string }[];
}

const pageSize = 4096;
const fdTypes = ['und', 'file', 'pipe', 'fifo', 'inet', 'unix', 'eventfd', 'eventpoll', 'inotify', 'signalfd', 'packet', 'tty', 'fanotify', 'netlink', 'ns', 'tun', 'ext', 'timerfd', 'memfd'];
const tcpStates: Record<number, string> = { 1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT', 7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING' };

const ints = varints;
const big = raw;

async function entries(dir: string, name: string): Promise<ProtoFields[]> {
  try {
    return imageEntries(await readFile(path.join(dir, name))).map(decodeProto);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot decode ${name}`, { cause: error });
  }
}

function ipv4(words: number[]): string {
  if (words.length !== 1) return words.map((w) => w.toString(16)).join(':');
  const w = words[0];
  return [w & 255, (w >>> 8) & 255, (w >>> 16) & 255, w >>> 24].join('.');
}

/** CRIU 4.x counts pages in field 5 (64-bit) and leaves the old 32-bit field 2 at 0. */
const pageCount = (e: ProtoFields) => int(e, 5) ?? int(e, 2) ?? 0;

/** PE_PARENT = 1, PE_PRESENT = 4: only present pages not in a parent image are in this image's pages file. */
function pagesInImage(e: ProtoFields): boolean {
  const flags = int(e, 4);
  return flags !== undefined ? (flags & 4) !== 0 && (flags & 1) === 0 : !int(e, 3);
}

/** Where the page at vaddr is: its offset in the pages file (present here), in the parent, or nowhere. */
function locate(map: Pagemap, vaddr: bigint): number | 'parent' | undefined {
  let offset = 0;
  for (const e of map.entries) {
    const inside = e.vaddr <= vaddr && vaddr < e.vaddr + BigInt(e.nrPages * pageSize);
    if (e.flags & PE_PRESENT) {
      if (inside) return offset + Number(vaddr - e.vaddr);
      offset += e.nrPages * pageSize;
    } else if (inside) return e.flags & PE_PARENT ? 'parent' : undefined;
  }
  return undefined;
}

/**
 * The bytes at [start, end) of a process's memory, as far as the dumped pages hold them: page by page from these
 * images, or from their parent's for a page they share with it (storage/dedup.ts); undefined if a page is in neither.
 */
async function readMemory(dir: string, pid: number, start: bigint, end: bigint): Promise<Buffer | undefined> {
  type Source = { dir: string; map: Pagemap; pages?: Buffer };
  const load = async (from: string): Promise<Source> => ({ dir: from, map: parsePagemap(await readFile(path.join(from, `pagemap-${pid}.img`))) });
  const here = await load(dir);
  let parent: Source | undefined;
  const out = Buffer.alloc(Number(end - start));
  const size = BigInt(pageSize);
  for (let page = start - (start % size); page < end; page += size) {
    let source = here;
    let at = locate(here.map, page);
    if (at === 'parent') {
      parent ??= await load(path.join(dir, 'parent')).catch(() => undefined);
      source = parent!;
      at = parent ? locate(parent.map, page) : undefined;
    }
    if (typeof at !== 'number') return undefined;
    source.pages ??= await readPages(source.dir, `pages-${source.map.pagesId}.img`);
    const from = page < start ? start : page;
    const to = page + size > end ? end : page + size;
    source.pages.copy(out, Number(from - start), at + Number(from - page), at + Number(to - page));
  }
  return out;
}

/** The size criu recorded for an open file (restore insists on it), or undefined if no task had it open. */
export async function recordedFileSize(dir: string, file: string): Promise<number | undefined> {
  for (const f of await entries(dir, 'files.img')) {
    const reg = msg(f, 3);
    if (reg && text(reg, 6) === file) return int(reg, 8);
  }
  return undefined;
}

export async function inspectImages(dir: string): Promise<Inspection> {
  const files = new Map<number, ProtoFields>();
  for (const f of await entries(dir, 'files.img')) files.set(int(f, 2)!, f);

  const describe = (id: number, type: string): string => {
    const f = files.get(id);
    if (!f) return `#${id}`;
    const reg = msg(f, 3);
    if (reg) return text(reg, 6) ?? `#${id}`;
    const isk = msg(f, 4);
    if (isk) {
      const [src, dst] = [ipv4(ints(isk, 11)), ipv4(ints(isk, 12))];
      const state = tcpStates[int(isk, 6) ?? 0] ?? String(int(isk, 6));
      if (int(isk, 6) === 10) return `listen ${src}:${int(isk, 7)}`;
      if (int(isk, 5) === 17 && !int(isk, 8)) return `udp ${src}:${int(isk, 7)}`;
      return `${src}:${int(isk, 7)} -> ${dst}:${int(isk, 8)} ${state}`;
    }
    const usk = msg(f, 16);
    if (usk) {
      const name = bytes(usk, 11);
      const shown = name?.length
        ? (name[0] === 0 ? '@' + Buffer.from(name.subarray(1)).toString() : Buffer.from(name).toString()).replace(/\0+$/, '')
        : 'unnamed';
      return `${shown}${int(usk, 4) === 10 ? ' (listening)' : ''}`;
    }
    const pipe = msg(f, 18);
    if (pipe) return `pipe:[${int(pipe, 2)}]`;
    return type;
  };

  const sockets: Inspection['sockets'] = [];
  for (const [id, f] of files) {
    const isk = msg(f, 4);
    if (isk) sockets.push({ id, kind: int(isk, 5) === 17 ? 'udp' : 'tcp', description: describe(id, 'inet') });
    if (msg(f, 16)) sockets.push({ id, kind: 'unix', description: describe(id, 'unix') });
  }

  const processes: InspectedProcess[] = [];
  for (const p of await entries(dir, 'pstree.img')) {
    const pid = int(p, 1)!;
    const [core] = await entries(dir, `core-${pid}.img`);
    const tc = msg(core, 3);
    const [ids] = await entries(dir, `ids-${pid}.img`);
    const filesId = int(ids ?? msg(core, 4), 2);
    const fds = filesId === undefined ? [] : await entries(dir, `fdinfo-${filesId}.img`);
    const [mm] = await entries(dir, `mm-${pid}.img`);
    const vmas = msgs(mm, 14);
    const vmaBytes = vmas.reduce((sum, v) => sum + Number((big(v, 2) ?? 0n) - (big(v, 1) ?? 0n)), 0);
    const pagemap = (await entries(dir, `pagemap-${pid}.img`)).slice(1);
    // Here or in the parent's images (a shared checkpoint): the memory the checkpoint holds for it.
    const dumpedBytes = pagemap.reduce((sum, e) => sum + (pagesInImage(e) || (int(e, 4) ?? 0) & PE_PARENT ? pageCount(e) * pageSize : 0), 0);
    const [argStart, argEnd] = [big(mm, 8), big(mm, 9)];
    const args = argStart !== undefined && argEnd !== undefined && argEnd > argStart ? await readMemory(dir, pid, argStart, argEnd) : undefined;
    const exeId = int(mm, 12);
    processes.push({
      pid,
      ppid: int(p, 2) ?? 0,
      threads: ints(p, 5).length,
      comm: text(tc, 6) ?? '?',
      cmdline: args ? args.toString('utf8').replace(/\0+$/, '').split('\0') : [],
      exe: exeId !== undefined ? describe(exeId, 'exe') : undefined,
      fds: fds.map((fd) => {
        const type = fdTypes[int(fd, 3) ?? 0] ?? 'other';
        return { fd: int(fd, 4) ?? -1, type, target: describe(int(fd, 1)!, type) };
      }),
      vmaBytes,
      dumpedBytes,
    });
  }
  return { processes, sockets };
}
