// Follows the desktop records other processes (the CLI, a script) write, and turns their changes into the same events
// as our own, so the bridge holds its bytes and pages update whoever drove the checkpoint. ("watch" is the audience page.)
import 'server-only';
import { readdirSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { readJson } from '../store/jsonFiles';
import type { DesktopRecord } from './records';
import type { DesktopEvent } from './events';
import type { Desktops } from './registry';

/** The event a state change means, or undefined for a change that means none. */
export function eventFor(before: DesktopRecord | undefined, after: DesktopRecord): Omit<DesktopEvent, 'desktop' | 'checkpoint'> | undefined {
  const from = before?.state;
  const to = after.state;
  if (from === to) return undefined;
  const ms = after.lastOperation?.ms;
  switch (to) {
    case 'checkpointing':
      return { type: 'checkpointing' };
    case 'checkpointed':
      return from === 'checkpointing' ? { type: 'checkpointed', ms } : { type: 'failed', operation: 'restore', error: after.lastError };
    case 'restoring':
      return { type: 'restoring' };
    case 'running':
      if (from === 'restoring') {
        const kept = after.lastOperation?.command?.includes('--tcp-established');
        return { type: 'restored', ms, connections: kept ? 'kept' : 'closed' };
      }
      if (from === 'starting' || from === undefined) return { type: 'started' };
      if (from === 'checkpointing') {
        return after.lastOperation?.ok === false ? { type: 'failed', operation: 'dump', error: after.lastError } : { type: 'checkpointed', ms };
      }
      return undefined;
    case 'stopping':
      return { type: 'stopping' };
    case 'stopped':
      if (after.movedTo && !before?.movedTo) return { type: 'moved' };
      return from === 'restoring' ? { type: 'failed', operation: 'restore', error: after.lastError } : { type: 'stopped' };
    case 'failed': {
      const operation = from === 'starting' ? 'start' : from === 'restoring' ? 'restore' : from === 'checkpointing' ? 'dump' : undefined;
      return { type: 'failed', operation, error: after.lastError };
    }
    default:
      return undefined;
  }
}

export function followOtherProcesses(desktops: Desktops): () => void {
  const known = new Map<string, DesktopRecord>();
  const seed = desktops.list().then((all) => all.forEach((d) => known.set(d.id, d)));
  const onChange = async (id: string) => {
    await seed;
    const record = await readJson<DesktopRecord>(desktops.paths.desktopRecord(id)).catch(() => undefined);
    const before = known.get(id);
    if (!record) {
      // Removed by another process (`freezeframe remove`): its folder went with its record.
      if (before) {
        known.delete(id);
        folders.get(id)?.close();
        folders.delete(id);
        desktops.publish({ type: 'removed', desktop: before });
      }
      return;
    }
    known.set(id, record);
    if (before?.updatedAt === record.updatedAt || desktops.wroteLast(record)) return;
    const event = eventFor(before, record);
    if (!event) return;
    const cpId = record.lastOperation?.checkpoint;
    const checkpoint = cpId ? await desktops.getCheckpoint(cpId).catch(() => undefined) : undefined;
    desktops.publish({ ...event, desktop: record, checkpoint });
  };
  // One change at a time per desktop, so its events come out in the order its states went.
  const chains = new Map<string, Promise<void>>();
  const queue = (id: string) => chains.set(id, (chains.get(id) ?? seed).then(() => onChange(id)).catch(() => {}));
  // Records are replaced by rename (atomic writes). Node 20's recursive fs.watch on Linux follows files by inode
  // and misses a file replaced by rename, so each desktop's folder gets a watcher of its own.
  const folders = new Map<string, FSWatcher>();
  const watchFolder = (id: string) => {
    if (folders.has(id)) return;
    try {
      const watcher = watch(path.dirname(desktops.paths.desktopRecord(id)), (_type, file) => {
        if (file === 'desktop.json') queue(id);
      });
      // The folder removed with its desktop: nothing more to follow there.
      watcher.on('error', () => {
        watcher.close();
        folders.delete(id);
      });
      folders.set(id, watcher);
    } catch {
      // The folder went away between its listing and now.
    }
  };
  const top = watch(desktops.paths.desktops(), (_type, name) => name && watchFolder(name));
  readdirSync(desktops.paths.desktops()).forEach(watchFolder);
  return () => {
    top.close();
    folders.forEach((w) => w.close());
  };
}
