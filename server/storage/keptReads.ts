// What was read out of a folder's files, kept while those files are unchanged: the trust check's decoding of a
// checkpoint's images (criu/trust.ts) and a restore's guard against images missing their lazy pages (pagemap.ts).
import { statSync } from 'node:fs';
import path from 'node:path';

export interface Fingerprint {
  /** Every file's name, inode, size, modification and change time. */
  print: string;
  /** The newest change time among them. */
  newestNs: bigint;
}

/**
 * A file rewritten, replaced, added or removed changes its folder's fingerprint (a change time cannot be set back,
 * but by root).
 */
export function fingerprint(dir: string, names: string[]): Fingerprint {
  let newestNs = 0n;
  const print = names.map((n) => {
    const s = statSync(path.join(dir, n), { bigint: true });
    if (s.ctimeNs > newestNs) newestNs = s.ctimeNs;
    return `${n}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  }).join('/');
  return { print, newestNs };
}

/**
 * A file's times may come from a coarse clock (one tick: 1-10 ms; this kernel's are finer, 6.13's multigrain
 * timestamps): a file written twice within one tick, at one size and inode, would keep its fingerprint. As git does
 * with racily clean files, what was read from files changed that recently is not kept.
 */
export const settledNs = 10_000_000n;

/** How long ago (ns) files last changed at newestNs; more than settledNs: settled. */
export const ageNs = (newestNs: bigint) => BigInt(Date.now()) * 1_000_000n - newestNs;

/** Values read out of folders, by folder, each with the fingerprint it was read at; the oldest goes past `limit`. */
export class KeptReads<T> {
  private readonly kept = new Map<string, { print: string; value: T }>();

  constructor(private readonly limit: number) {}

  /** The value read at this very fingerprint (kept: true), else read() now, kept once its files have settled. */
  get(dir: string, at: Fingerprint, read: () => T): { value: T; kept: boolean } {
    const kept = this.kept.get(dir);
    if (kept?.print === at.print) return { value: kept.value, kept: true };
    const value = read();
    this.kept.delete(dir);
    if (ageNs(at.newestNs) > settledNs) this.kept.set(dir, { print: at.print, value });
    while (this.kept.size > this.limit) this.kept.delete(this.kept.keys().next().value!);
    return { value, kept: false };
  }
}
