// Small formatters shared by the pages: durations, sizes, times, and a command line as a shell would read it.

/** 256.4 -> "0.26 s": operations take fractions of a second, so two decimals. */
export function seconds(ms: number | undefined, digits = 2): string {
  return ms === undefined ? '—' : `${(ms / 1000).toFixed(digits)} s`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

/** CRIU's phase times run from a fraction of a millisecond to seconds: milliseconds, one decimal. */
export function millis(ms: number | undefined): string {
  return ms === undefined ? '—' : `${ms.toFixed(1)} ms`;
}

/** Date and time, for a checkpoint that may be days old (an imported one); in timeZone, else the runtime's own. */
export function when(iso: string | undefined, timeZone?: string): string {
  if (!iso) return '—';
  // hourCycle, not hour12: false, which makes some ICU builds (Node's) write midnight as "24:00".
  const text = new Date(iso).toLocaleString('en-GB', { hourCycle: 'h23', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone });
  return timeZone === 'UTC' ? `${text} UTC` : text;
}

export function clock(iso: string | undefined, timeZone?: string): string {
  if (!iso) return '—';
  const text = new Date(iso).toLocaleTimeString('en-GB', { hourCycle: 'h23', timeZone });
  return timeZone === 'UTC' ? `${text} UTC` : text;
}

/** The argv quoted so it can be pasted into a shell and run as it ran. */
export function shellQuote(argv: string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}
