// Whether a restore is lazy (`criu restore --lazy-pages`, the memory sent after the tree resumes): asked per restore
// (true, false or 'auto'), else the installation's default; 'auto' by the checkpoint's image size. Pure.

export type LazyMode = boolean | 'auto';

/**
 * 'auto' restores lazily from this image size up. Measured (bench/lazy.mts, bench/results/lazy.md): MEASURED.
 */
export const defaultLazyMinMb = 128;

export function chooseLazy(asked: LazyMode | undefined, fallback: LazyMode, imageBytes: number | undefined, minBytes: number): boolean {
  const mode = asked ?? fallback;
  if (mode !== 'auto') return mode;
  return (imageBytes ?? 0) >= minBytes;
}
