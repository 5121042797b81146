// Where X put an app's window, read from `xwininfo -root -tree`: shared by the e2e suite and the benches.

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The largest window of the tree whose name matches (at least 50x50), in screen pixels; undefined if none. */
export function largestWindow(tree: string, name: RegExp): Region | undefined {
  // e.g.   0x400022 "xterm": ("xterm" "XTerm")  484x316+0+0  +10+34   (size+relative  +absolute position)
  let best: Region | undefined;
  for (const line of tree.split('\n')) {
    const m = /^\s*0x[0-9a-f]+ "(.*)":.*?\s(\d+)x(\d+)[+-]-?\d+[+-]-?\d+\s+\+(-?\d+)\+(-?\d+)\s*$/.exec(line);
    if (!m || !name.test(m[1])) continue;
    const region = { x: Number(m[4]), y: Number(m[5]), width: Number(m[2]), height: Number(m[3]) };
    if (region.width < 50 || region.height < 50) continue;
    if (!best || region.width * region.height > best.width * best.height) best = region;
  }
  return best;
}
