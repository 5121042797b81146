// Reads CRIU image files: the magic header and protobuf entries, decoded without the .proto machinery.
import 'server-only';
import { readFile } from 'node:fs/promises';
import { readVarint } from './varint';

/** Field number -> values in order (varints as bigint, length-delimited fields as bytes). */
export type ProtoFields = Map<number, (bigint | Uint8Array)[]>;

export function decodeProto(buf: Uint8Array): ProtoFields {
  const fields: ProtoFields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    let key: bigint;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: bigint | Uint8Array;
    if (wire === 0) {
      [value, pos] = readVarint(buf, pos);
    } else if (wire === 2) {
      let length: bigint;
      [length, pos] = readVarint(buf, pos);
      const end = pos + Number(length);
      if (end > buf.length) throw new RangeError('truncated field');
      value = buf.subarray(pos, end);
      pos = end;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (pos + size > buf.length) throw new RangeError('truncated field');
      value = buf.subarray(pos, pos + size);
      pos += size;
    } else {
      throw new RangeError(`unsupported protobuf wire type ${wire}`);
    }
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const inventoryMagic = 0x58313116;

/**
 * The entries of an image: its magic(s), then (u32 length, message)*. Every image opens with two magics (a
 * common or service one, then its own), except inventory.img, which has only its own. `max`: stop after so many
 * (a ghost-file image is one entry followed by the file's raw contents).
 */
export function imageEntries(buf: Buffer, max = Infinity): Uint8Array[] {
  if (buf.length < 4) throw new RangeError('not a CRIU image: too short');
  let pos = buf.readUInt32LE(0) === inventoryMagic ? 4 : 8;
  const entries: Uint8Array[] = [];
  while (pos + 4 <= buf.length && entries.length < max) {
    const size = buf.readUInt32LE(pos);
    pos += 4;
    if (pos + size > buf.length) throw new RangeError('truncated image entry');
    entries.push(buf.subarray(pos, pos + size));
    pos += size;
  }
  return entries;
}

const num = (fields: ProtoFields | undefined, n: number): number | undefined => {
  const v = fields?.get(n)?.[0];
  return typeof v === 'bigint' ? Number(v) : undefined;
};
const sub = (fields: ProtoFields, n: number): ProtoFields | undefined => {
  const v = fields.get(n)?.[0];
  return v instanceof Uint8Array ? decodeProto(v) : undefined;
};

/** CRIU's stats-dump (times in microseconds, as CRIU writes them; here in milliseconds). */
export interface DumpStats {
  freezingMs: number;
  frozenMs: number;
  memdumpMs: number;
  memwriteMs: number;
  pagesScanned: number;
  pagesSkippedParent: number;
  pagesWritten: number;
}

export interface RestoreStats {
  forkingMs: number;
  restoreMs: number;
  pagesCompared: number;
  pagesSkippedCow: number;
  pagesRestored?: number;
}

export function decodeStats(buf: Buffer): { dump?: DumpStats; restore?: RestoreStats } {
  const [entry] = imageEntries(buf);
  if (!entry) return {};
  const stats = decodeProto(entry);
  const d = sub(stats, 1);
  const r = sub(stats, 2);
  const ms = (us: number | undefined) => (us ?? 0) / 1000;
  return {
    dump: d && {
      freezingMs: ms(num(d, 1)), frozenMs: ms(num(d, 2)), memdumpMs: ms(num(d, 3)), memwriteMs: ms(num(d, 4)),
      pagesScanned: num(d, 5) ?? 0, pagesSkippedParent: num(d, 6) ?? 0, pagesWritten: num(d, 7) ?? 0,
    },
    restore: r && {
      pagesCompared: num(r, 1) ?? 0, pagesSkippedCow: num(r, 2) ?? 0,
      forkingMs: ms(num(r, 3)), restoreMs: ms(num(r, 4)), pagesRestored: num(r, 5),
    },
  };
}

export async function readStats(file: string): Promise<{ dump?: DumpStats; restore?: RestoreStats } | undefined> {
  try {
    return decodeStats(await readFile(file));
  } catch {
    return undefined;
  }
}
