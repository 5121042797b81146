// A desktop's own /etc/passwd and /etc/group, bound over the host's inside its mount namespace only: its uid
// (one per desktop, with no entry on the host) gets the same name in every desktop.
import { readFile, writeFile } from 'node:fs/promises';
import { inside } from './layout';

/** The name every desktop's user has inside. */
export const insideUserName = 'desktop';

export interface DesktopIds {
  uid: number;
  gid: number;
}

/** The host's entries but any with the desktop's name or id, then the desktop's own (pure). */
export function withDesktopEntry(hostPasswd: string, hostGroup: string, ids: DesktopIds): { passwd: string; group: string } {
  const keep = (text: string, id: number) =>
    text.split('\n').filter((line) => {
      const f = line.split(':');
      return line !== '' && f[0] !== insideUserName && Number(f[2]) !== id;
    });
  return {
    passwd: [...keep(hostPasswd, ids.uid), `${insideUserName}:x:${ids.uid}:${ids.gid}:Freezeframe desktop:${inside.home}:/bin/bash`, ''].join('\n'),
    group: [...keep(hostGroup, ids.gid), `${insideUserName}:x:${ids.gid}:`, ''].join('\n'),
  };
}

/** Writes passwdFile and groupFile (0644, root's: the desktop may read them, never change them). */
export async function writeDesktopPasswd(ids: DesktopIds, passwdFile: string, groupFile: string): Promise<void> {
  const files = withDesktopEntry(await readFile('/etc/passwd', 'utf8'), await readFile('/etc/group', 'utf8'), ids);
  await writeFile(passwdFile, files.passwd, { mode: 0o644 });
  await writeFile(groupFile, files.group, { mode: 0o644 });
}
