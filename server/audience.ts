// The audience link of a desktop, for the pages: its watch page, with the desktop's view token when the server
// asks for tokens. main.ts hands the token maker over on globalThis (Next.js bundles this module apart from it).
import 'server-only';

const key = Symbol.for('freezeframe.viewTokens');
type ViewTokens = (desktopId: string) => string | undefined;
type Holder = { [key]?: ViewTokens };

export function setViewTokens(viewToken: ViewTokens): void {
  (globalThis as Holder)[key] = viewToken;
}

/** "/desktops/<id>/watch", plus "?token=<view token>" when the server is not on loopback. */
export function audiencePath(desktopId: string): string {
  const token = (globalThis as Holder)[key]?.(desktopId);
  const path = `/desktops/${desktopId}/watch`;
  return token ? `${path}?token=${encodeURIComponent(token)}` : path;
}
