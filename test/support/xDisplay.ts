// The X display of a desktop as a program on the host reaches it: the host's :N, or a contained desktop's :1, whose
// socket lives in its own network namespace (abstract) and /tmp, reached by entering that namespace (nsenter).
import { readdirSync } from 'node:fs';

export interface XDesktop {
  id: string;
  display: number;
}

/** argv that runs program with args against the desktop's display. */
export function xCommand(desktop: XDesktop, program: string, args: string[]): [string, string[]] {
  // A contained desktop's namespace: /run/netns/ff-<state folder tag>-<id's hex> (server/desktops/rooms.ts).
  const hex = desktop.id.replace(/^d-/, '');
  const netns = (() => {
    try {
      return readdirSync('/run/netns').find((n) => n.startsWith('ff-') && n.endsWith(`-${hex}`));
    } catch {
      return undefined;
    }
  })();
  const display = ['-display', `:${desktop.display}`];
  return netns ? ['nsenter', [`--net=/run/netns/${netns}`, '--', program, ...args, ...display]] : [program, [...args, ...display]];
}
