// Whether a restore is lazy (`criu restore --lazy-pages`, the memory sent after the tree resumes): asked per restore
// (true, false or 'auto'), else the installation's default; 'auto' by the checkpoint's image size. Pure.

export type LazyMode = boolean | 'auto';

/**
 * 'auto' restores lazily from this image size up. Measured (bench/lazy.mts, request -> first changed frame or
 * return, medians, load 7-10 on 2 cores, criu -v4): xterm 37 MB lazy 132 vs eager 121 ms, Writer 71 MB 478 vs 410
 * (load 12), both slower lazily (the daemon's start, the premapping); Firefox 400 MB 758 vs 820 ms, with a process
 * holding 256 MB more (670 MB) 711 vs 878, 768 MB more (1.2 GB) 964 vs 1491, 1.5 GB more (2 GB) 784 vs 1649.
 */
export const defaultLazyMinMb = 256;

export function chooseLazy(asked: LazyMode | undefined, fallback: LazyMode, imageBytes: number | undefined, minBytes: number): boolean {
  const mode = asked ?? fallback;
  if (mode !== 'auto') return mode;
  return (imageBytes ?? 0) >= minBytes;
}
