// At server start: the network namespaces and overlay homes of this state folder that no desktop needs any more
// (a server killed between a stop's steps, a desktop removed while its namespace was held) are forgotten, each under
// its desktop's lock, so a start or a restore of that desktop in another process is never undercut.
import { access, readdir, readFile } from 'node:fs/promises';
import { FreezeframeError } from '../../errors';
import { netnsPrefix, roomOf } from '../rooms';
import type { DesktopRecord } from '../records';
import type { OperationContext } from './context';
import { rootAlive } from './reconcile';

export interface Swept {
  namespaces: string[];
  homes: string[];
}

const exists = (file: string) => access(file).then(() => true, () => false);

/** The kept namespaces' names (ip netns: a file each under /run/netns), read without running ip. */
async function namespaceNames(): Promise<string[]> {
  return readdir('/run/netns').catch(() => []);
}

/** Overlay homes mounted under the state folder's desktops, by desktop id. */
async function mountedHomes(ctx: OperationContext): Promise<Map<string, string>> {
  const homes = new Map<string, string>();
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of table.split('\n')) {
    const mountpoint = line.split(' ')[4];
    if (!mountpoint?.startsWith(`${ctx.paths.desktops()}/`)) continue;
    const id = mountpoint.slice(ctx.paths.desktops().length + 1).split('/')[0];
    if (roomOf(ctx.paths, id).home === mountpoint) homes.set(id, mountpoint);
  }
  return homes;
}

/** A desktop needs its room while its record says it is anything but stopped, or its tree still runs. */
async function needsRoom(ctx: OperationContext, record: DesktopRecord | undefined): Promise<boolean> {
  if (!record) return false;
  if (record.state !== 'stopped') return true;
  return rootAlive(ctx, record);
}

export async function sweepRooms(ctx: OperationContext): Promise<Swept> {
  const prefix = netnsPrefix(ctx.paths);
  const namespaces = (await namespaceNames()).filter((name) => name.startsWith(prefix));
  const homes = await mountedHomes(ctx);
  const ids = new Set([...namespaces.map((name) => `d-${name.slice(prefix.length)}`), ...homes.keys()]);
  const swept: Swept = { namespaces: [], homes: [] };
  const forget = async (id: string) => {
    const record = await ctx.store.load(id).catch(() => undefined);
    if (await needsRoom(ctx, record)) return;
    const room = roomOf(ctx.paths, id);
    if (namespaces.includes(room.netns)) {
      await ctx.deps.rooms.deleteNetns(room.netns);
      swept.namespaces.push(room.netns);
    }
    if (homes.has(id)) {
      await ctx.deps.rooms.unmountHome(room);
      swept.homes.push(room.home);
    }
  };
  for (const id of ids) {
    // No folder, no lock to take, and no operation under way: a start makes the folder (and takes its lock) first.
    if (!(await exists(ctx.paths.desktopDir(id)))) {
      await forget(id);
      continue;
    }
    await ctx.locks.run(id, 'sweep', () => forget(id)).catch((error: unknown) => {
      // Busy: an operation in this or another process holds it, and knows best.
      if (!(error instanceof FreezeframeError && error.code === 'busy')) throw error;
    });
  }
  return swept;
}
