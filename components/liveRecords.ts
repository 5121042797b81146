// Merging records that reach a page by several roads (events, action results, reads) in any order.
import type { CheckpointView, DesktopView } from './desktopTypes';

/** Records arrive from events, action results and reads that may overtake each other: the newer record wins. */
export const newer = <T extends Pick<DesktopView, 'updatedAt'>>(a: T, b: T): T => (a.updatedAt >= b.updatedAt ? a : b);

/** The list with this checkpoint's latest version in it (added, or replacing the one with its id). */
export function mergeCheckpoint(list: CheckpointView[], checkpoint?: CheckpointView): CheckpointView[] {
  if (!checkpoint) return list;
  const at = list.findIndex((c) => c.id === checkpoint.id);
  return at < 0 ? [...list, checkpoint] : list.with(at, checkpoint);
}
