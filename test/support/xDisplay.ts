// The X display of a desktop as a program on the host reaches it: the host's :N, or a contained desktop's :1, whose
// socket lives in its own network namespace (abstract) and /tmp, reached by entering that namespace (nsenter).
import { readdirSync } from 'node:fs';

export interface XDesktop {
  id: string;
  display: number;
}

/** A contained desktop's namespace, /run/netns/ff-<state folder tag>-<id's hex> (server/desktops/rooms.ts), if it has one. */
function netnsOf(id: string): string | undefined {
  const hex = id.replace(/^d-/, '');
  try {
    const name = readdirSync('/run/netns').find((n) => n.startsWith('ff-') && n.endsWith(`-${hex}`));
    return name && `/run/netns/${name}`;
  } catch {
    return undefined;
  }
}

/** argv that runs program with args in the desktop's network namespace (the host's, for a desktop on the host). */
export function netCommand(id: string, program: string, args: string[]): [string, string[]] {
  const netns = netnsOf(id);
  return netns ? ['nsenter', [`--net=${netns}`, '--', program, ...args]] : [program, args];
}

/** argv that runs program with args against the desktop's display. */
export function xCommand(desktop: XDesktop, program: string, args: string[]): [string, string[]] {
  return netCommand(desktop.id, program, [...args, '-display', `:${desktop.display}`]);
}
