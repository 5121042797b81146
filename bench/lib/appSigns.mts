// How a bench tells that an app of the catalog is up (its window, its process) and that it lives (its picture).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eventually } from '../../test/support/eventually';
import { xCommand, type XDesktop } from '../../test/support/xDisplay';

export interface AppSign {
  /** Matches xwininfo's tree (the window's quoted name) once the app's window is up. */
  window: RegExp;
  /** The window's name alone, for its place on the screen (test/support/windows.ts). */
  name: RegExp;
  /** The process it runs as (comm). */
  comm: RegExp;
  /**
   * What shows, after a restore, that it lives: 'moves' (its picture changes by itself), or the key (an X keysym)
   * to press for cycle n, whose effect changes its picture; `focusAt`: where to click once first for the focus
   * (fractions of the window; its middle unless said).
   */
  proof: 'moves' | { key: (n: number) => number; focusAt?: [number, number] };
}

const char = (c: string) => () => c.charCodeAt(0);

/** What shows that each app is up, and lives. */
export const appSigns: Record<string, AppSign> = {
  xterm: { window: /"xterm"/, name: /^xterm$/, comm: /^xterm$/, proof: { key: char('x') } },
  xclock: { window: /"xclock"/, name: /^xclock$/, comm: /^xclock$/, proof: 'moves' },
  firefox: { window: /Mozilla Firefox/, name: /Mozilla Firefox/, comm: /^firefox-esr$/, proof: 'moves' },
  writer: { window: /LibreOffice Writer/, name: /LibreOffice Writer/, comm: /^soffice\.bin$/, proof: { key: char('x') } },
  // Its display (not a button) takes the focus; a digit typed there is drawn large.
  calculator: { window: /"Calculator"/, name: /^Calculator$/, comm: /^gnome-calculato/, proof: { key: char('7'), focusAt: [0.5, 0.2] } },
  mousepad: { window: /Mousepad/, name: /Mousepad/, comm: /^mousepad$/, proof: { key: char('x') } },
  // n and p in turn: page 2, page 1, page 2... (a page of another colour each time).
  xpdf: { window: /Xpdf: /, name: /^Xpdf: /, comm: /^xpdf/, proof: { key: (n) => (n % 2 ? 'p' : 'n').charCodeAt(0) } },
  chromium: { window: /"Freezeframe counter"/, name: /^Freezeframe counter$/, comm: /^chromium$/, proof: 'moves' },
  mpv: { window: /"Freezeframe clip"/, name: /^Freezeframe clip$/, comm: /^mpv$/, proof: 'moves' },
};

/** xwininfo's tree of the desktop's windows (a contained desktop's display is reached in its namespace). */
export async function windows(desktop: XDesktop): Promise<string> {
  const [program, args] = xCommand(desktop, 'xwininfo', ['-root', '-tree']);
  return (await promisify(execFile)(program, args, { timeout: 10_000 })).stdout;
}

/** Resolves once every app's window shows on the desktop (apps it knows no sign of are not waited for). */
export async function appsUp(desktop: XDesktop, apps: string[], timeoutMs = 90_000): Promise<void> {
  await eventually(async () => {
    const tree = await windows(desktop);
    const missing = apps.filter((app) => appSigns[app] && !appSigns[app].window.test(tree));
    if (missing.length) throw new Error(`no window yet for ${missing.join(', ')} on :${desktop.display} of ${desktop.id}`);
  }, timeoutMs);
}
