// Protobuf's base-128 varints, both ways: the one reader and the one writer behind CRIU's images (images.ts), its
// RPC (rpc.ts), the page sharing's pagemaps (storage/pagemap.ts) and the tests' image edits. Pure.

/** The varint at pos and the position after it. */
export function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    if (pos >= buf.length) throw new RangeError('truncated varint');
    const byte = buf[pos++];
    value |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [value, pos];
    if (shift > 63n) throw new RangeError('varint too long');
  }
}

/** value as a varint; a negative one as its 64-bit two's complement (10 bytes), as protobuf sends an int32 -1. */
export function encodeVarint(value: bigint | number): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? byte | 0x80 : byte);
  } while (v);
  return out;
}

/** A field's key: its number and wire type (0 varint, 2 length-delimited). */
export const fieldKey = (field: number, wire: number): number[] => encodeVarint((field << 3) | wire);
