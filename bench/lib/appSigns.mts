// How a bench tells that an app of the catalog is up: its top-level window on the desktop's display, its process.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eventually } from '../../test/support/eventually';

/** What shows that each app is up: a top-level window whose name matches, and the process it runs as. */
export const appSigns: Record<string, { window: RegExp; comm: RegExp }> = {
  xterm: { window: /"xterm"/, comm: /^xterm$/ },
  xclock: { window: /"xclock"/, comm: /^xclock$/ },
  firefox: { window: /Mozilla Firefox/, comm: /^firefox-esr$/ },
  writer: { window: /LibreOffice Writer/, comm: /^soffice\.bin$/ },
  calculator: { window: /"Calculator"/, comm: /^gnome-calculato/ },
  mousepad: { window: /Mousepad/, comm: /^mousepad$/ },
  xpdf: { window: /Xpdf: /, comm: /^xpdf/ },
};

/** xwininfo's tree of the display's windows. */
export const windows = async (display: number) =>
  (await promisify(execFile)('xwininfo', ['-root', '-tree', '-display', `:${display}`], { timeout: 10_000 })).stdout;

/** Resolves once every app's window shows on the display (apps it knows no sign of are not waited for). */
export async function appsUp(display: number, apps: string[], timeoutMs = 90_000): Promise<void> {
  await eventually(async () => {
    const tree = await windows(display);
    const missing = apps.filter((app) => appSigns[app] && !appSigns[app].window.test(tree));
    if (missing.length) throw new Error(`no window yet for ${missing.join(', ')} on :${display}`);
  }, timeoutMs);
}
