// Edits one field of a CRIU image's protobuf entries and writes the image back, every other byte kept as it was:
// how the trust tests make hostile images out of a real checkpoint.
import { readFile, writeFile } from 'node:fs/promises';
import { encodeVarint as encodeVarintBytes, readVarint } from '../../server/criu/varint';

interface RawField { field: number; wire: number; start: number; end: number; valueStart: number }

const varint = readVarint;
export const encodeVarint = (value: bigint | number) => Buffer.from(encodeVarintBytes(value));

function rawFields(buf: Uint8Array): RawField[] {
  const out: RawField[] = [];
  for (let pos = 0; pos < buf.length;) {
    const start = pos;
    let key: bigint;
    [key, pos] = varint(buf, pos);
    const wire = Number(key & 7n);
    let valueStart = pos;
    if (wire === 0) [, pos] = varint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let length: bigint;
      [length, valueStart] = varint(buf, pos);
      pos = valueStart + Number(length);
    } else throw new RangeError(`wire type ${wire}`);
    out.push({ field: Number(key >> 3n), wire, start, end: pos, valueStart });
  }
  return out;
}

const key = (field: number, wire: number) => encodeVarint((field << 3) | wire);

/**
 * The message with the first occurrence of the field at `path` (field numbers, outermost first) set to `value`
 * (a varint, or bytes/a string as a length-delimited field); a field that is absent is appended.
 */
export function setField(msg: Uint8Array, path: number[], value: bigint | number | string | Uint8Array): Buffer {
  const [head, ...rest] = path;
  const fields = rawFields(msg);
  const target = fields.find((f) => f.field === head);
  let replacement: Buffer;
  if (rest.length) {
    if (!target || target.wire !== 2) throw new RangeError(`no message in field ${head}`);
    const inner = setField(msg.subarray(target.valueStart, target.end), rest, value);
    replacement = Buffer.concat([key(head, 2), encodeVarint(inner.length), inner]);
  } else if (typeof value === 'bigint' || typeof value === 'number') {
    replacement = Buffer.concat([key(head, 0), encodeVarint(value)]);
  } else {
    const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
    replacement = Buffer.concat([key(head, 2), encodeVarint(bytes.length), bytes]);
  }
  if (!target) return Buffer.concat([Buffer.from(msg), replacement]);
  return Buffer.concat([Buffer.from(msg.subarray(0, target.start)), replacement, Buffer.from(msg.subarray(target.end))]);
}

/** Rewrites an image file's entries (after its magic(s)) through `edit`, which returns the entry, changed or not. */
export async function editImage(file: string, edit: (entry: Uint8Array, index: number) => Uint8Array): Promise<void> {
  const buf = await readFile(file);
  const headerSize = buf.readUInt32LE(0) === 0x58313116 ? 4 : 8; // inventory.img has one magic, the others two
  const parts: Buffer[] = [buf.subarray(0, headerSize)];
  for (let pos = headerSize, i = 0; pos + 4 <= buf.length; i++) {
    const size = buf.readUInt32LE(pos);
    const entry = edit(buf.subarray(pos + 4, pos + 4 + size), i);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(entry.length);
    parts.push(length, Buffer.from(entry));
    pos += 4 + size;
  }
  await writeFile(file, Buffer.concat(parts));
}
