// Reading fields out of decoded CRIU image entries (server/criu/images.ts decodeProto): the one set of accessors the
// inspection and the trust check share. Pure; what a field means is the caller's (CRIU's .proto files).
import { decodeProto, type ProtoFields } from './images';

/** Repeated scalars arrive one per field, or packed into one length-delimited field. */
export function varints(f: ProtoFields | undefined, n: number): number[] {
  const out: number[] = [];
  for (const v of f?.get(n) ?? []) {
    if (typeof v === 'bigint') {
      out.push(Number(v));
      continue;
    }
    let value = 0;
    let shift = 0;
    for (const byte of v) {
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) {
        out.push(value);
        value = 0;
        shift = 0;
      }
    }
  }
  return out;
}

/** The first value of a varint field as a number (undefined when absent, as an index past the end is). */
export const int = (f: ProtoFields | undefined, n: number) => varints(f, n)[0];

/** The first value of a varint field as it was decoded (64 bits). */
export const raw = (f: ProtoFields | undefined, n: number): bigint | undefined => {
  const v = f?.get(n)?.[0];
  return typeof v === 'bigint' ? v : undefined;
};

/** sint32 (zigzag) and int32 (negative: 64-bit two's complement) as numbers. */
export const zigzag = (v: bigint | undefined) => (v === undefined ? undefined : Number((v >> 1n) ^ -(v & 1n)));
export const int32 = (v: bigint | undefined) => (v === undefined ? undefined : Number(BigInt.asIntN(32, v)));

export const bytes = (f: ProtoFields | undefined, n: number): Uint8Array | undefined => {
  const v = f?.get(n)?.[0];
  return v instanceof Uint8Array ? v : undefined;
};

export const text = (f: ProtoFields | undefined, n: number): string | undefined => {
  const v = bytes(f, n);
  return v ? Buffer.from(v).toString('utf8') : undefined;
};

/** An embedded message, decoded. */
export const msg = (f: ProtoFields | undefined, n: number): ProtoFields | undefined => {
  const v = bytes(f, n);
  return v ? decodeProto(v) : undefined;
};

/** Every embedded message of a repeated field, decoded. */
export const msgs = (f: ProtoFields | undefined, n: number): ProtoFields[] =>
  (f?.get(n) ?? []).filter((v): v is Uint8Array => v instanceof Uint8Array).map(decodeProto);
