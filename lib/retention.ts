// A desktop's retention policy and the pure choice of which checkpoints it removes. Browser-safe: the page words the
// policy with the same rules the engine applies after each checkpoint (server/desktops/operations/tidy.ts).

export interface RetentionPolicy {
  /** Keep the N newest checkpoints (pinned and kept ones come on top); older ones go. */
  keepLast?: number;
  /** Remove the oldest checkpoints until the desktop's checkpoints take at most this many bytes on disk. */
  maxBytes?: number;
}

export interface RetentionCandidate {
  id: string;
  createdAt: string;
  state: 'dumping' | 'complete' | 'failed';
  /** Bytes it takes on disk (after sharing pages with its base). */
  bytes: number;
  pinned?: boolean;
  /** The checkpoint whose images it reads shared pages from: those stay on disk while it is kept. */
  base?: string;
}

export const retentionLimits = { keepLast: { min: 1, max: 10_000 }, maxBytes: { min: 1024 ** 2, max: 1024 ** 5 } };

/** Whether a policy removes anything at all. */
export const hasPolicy = (p: RetentionPolicy | undefined): p is RetentionPolicy => !!p && (p.keepLast !== undefined || p.maxBytes !== undefined);

export function describePolicy(p: RetentionPolicy | undefined, formatBytes: (n: number) => string): string {
  if (!hasPolicy(p)) return 'keep every checkpoint';
  const parts = [p.keepLast !== undefined && `the last ${p.keepLast}`, p.maxBytes !== undefined && `at most ${formatBytes(p.maxBytes)}`].filter(Boolean);
  return `keep ${parts.join(' and ')} (pinned ones always)`;
}

/**
 * The checkpoints the policy removes, oldest first. Never removed: pinned ones, those in `keep` (the one a frozen
 * desktop froze at), one still being dumped, and the newest (the one just made). keepLast counts the newest and
 * the others that may go, newest first (pinned and frozen-at ones are kept on top); then maxBytes removes the oldest left until the rest fit, counting a removed base's
 * bytes as long as a kept checkpoint still reads pages from it.
 */
export function checkpointsToRemove(all: RetentionCandidate[], policy: RetentionPolicy | undefined, keep: ReadonlySet<string> = new Set()): string[] {
  if (!hasPolicy(policy)) return [];
  const newestFirst = all.filter((c) => c.state !== 'dumping').sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  const newest = newestFirst[0]?.id;
  const removable = (c: RetentionCandidate) => !c.pinned && !keep.has(c.id) && c.id !== newest;
  const removed = new Set<string>();
  if (policy.keepLast !== undefined) {
    newestFirst.filter(removable).forEach((c, i) => {
      // The newest is kept and counted.
      if (i + 1 >= policy.keepLast!) removed.add(c.id);
    });
  }
  if (policy.maxBytes !== undefined) {
    const byId = new Map(all.map((c) => [c.id, c]));
    const total = () => {
      const kept = all.filter((c) => !removed.has(c.id));
      const bases = new Set(kept.map((c) => c.base).filter((b): b is string => !!b && removed.has(b)));
      return kept.reduce((s, c) => s + c.bytes, 0) + [...bases].reduce((s, b) => s + (byId.get(b)?.bytes ?? 0), 0);
    };
    for (const c of [...newestFirst].reverse()) {
      if (total() <= policy.maxBytes) break;
      if (removable(c)) removed.add(c.id);
    }
  }
  return newestFirst.filter((c) => removed.has(c.id)).map((c) => c.id).reverse();
}
