// The freeze timer's face: minutes, seconds and tenths, readable from the back of the room.

/** 12345 ms -> "00:12.3"; past an hour "1:02:03.4". */
export function stopwatch(ms: number): string {
  const tenths = Math.floor(ms / 100);
  const s = Math.floor(tenths / 10) % 60;
  const m = Math.floor(tenths / 600) % 60;
  const h = Math.floor(tenths / 36_000);
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${tenths % 10}`;
  return h ? `${h}:${mmss}` : mmss;
}
