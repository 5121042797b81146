// What the pages and the HTTP API show of a desktop or checkpoint: its records plus the tail of CRIU's logs.
import 'server-only';
import { access, open, statfs } from 'node:fs/promises';
import type { Engine } from '../engine';
import type { CheckpointRecord, DesktopRecord } from '../desktops/records';
import { checkpointView, desktopView } from './redact';
import { gzName, readLog } from '../storage/logs';
import type { CheckpointDetail, DesktopDetail, DesktopSummary, LogTail, StorageView } from '../../lib/viewTypes';

export type { CheckpointDetail, DesktopDetail, DesktopSummary, LogTail, StorageView } from '../../lib/viewTypes';

// A -v4 dump log runs to megabytes; its last lines are all a person needs here (the path leads to the rest).
const tailBytes = 32 * 1024;

export async function tailLines(path: string, lines = 14): Promise<string[] | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    // Packed once no one writes it (storage/logs.ts): ~100 KB of gzip, read whole.
    const text = await readLog(path).catch(() => undefined);
    return text?.split('\n').filter((line) => line.trim() !== '').slice(-lines);
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, tailBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const all = buffer.toString('utf8').split('\n').filter((line) => line.trim() !== '');
    // The first line may be cut in half by the byte window: drop it unless the whole file was read.
    return (size > length ? all.slice(1) : all).slice(-lines);
  } finally {
    await handle.close();
  }
}

async function logTail(path: string | undefined, operation: LogTail['operation'], checkpoint: string): Promise<LogTail | undefined> {
  if (!path) return undefined;
  const lines = await tailLines(path);
  // The file as it is now: packed, the path an operator opens is the .gz (zcat reads it).
  const shown = await access(path).then(() => path, () => gzName(path));
  return lines ? { operation, checkpoint, path: shown, lines } : undefined;
}

/** The log of the desktop's latest dump or restore (a failed one included). */
async function latestLog(desktop: DesktopRecord, checkpoints: CheckpointRecord[]): Promise<LogTail | undefined> {
  const op = desktop.lastOperation;
  const checkpoint = checkpoints.find((c) => c.id === op?.checkpoint);
  if (!op || !checkpoint) return undefined;
  if (op.kind === 'dump') return logTail(checkpoint.logPath, 'dump', checkpoint.id);
  if (op.kind === 'restore') return logTail(checkpoint.restores.at(-1)?.logPath, 'restore', checkpoint.id);
  return undefined;
}

export async function desktopSummaries(engine: Engine): Promise<DesktopSummary[]> {
  const [desktops, checkpoints] = await Promise.all([engine.desktops.list(), engine.desktops.checkpoints()]);
  return desktops
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .map((desktop) => ({ ...desktopView(desktop), checkpoints: checkpoints.filter((c) => c.desktop === desktop.id).map(checkpointView) }));
}

export async function desktopDetail(engine: Engine, id: string): Promise<DesktopDetail> {
  const desktop = await engine.desktops.get(id);
  const all = await engine.desktops.checkpoints();
  const checkpoints = all.filter((c) => c.desktop === id);
  const [log, storage] = await Promise.all([latestLog(desktop, checkpoints), storageView(engine, all)]);
  return {
    desktop: desktopView(desktop),
    vncPassword: desktop.vncPassword,
    checkpoints: checkpoints.map(checkpointView),
    latestLog: log,
    serverTime: new Date().toISOString(),
    storage,
  };
}

/** The images' recorded sizes (no walk over the folders) and the free space where they are written. */
export async function storageView(engine: Engine, checkpoints?: CheckpointRecord[]): Promise<StorageView> {
  const all = checkpoints ?? (await engine.desktops.checkpoints());
  const complete = all.filter((c) => c.state === 'complete');
  const stateDir = engine.config.stateDir;
  const fs = await statfs(stateDir);
  return {
    // On disk: a checkpoint that shares pages with its base takes a fraction of its images' size.
    checkpointBytes: complete.reduce((sum, c) => sum + (c.storedBytes ?? c.imageBytes ?? 0), 0),
    checkpoints: complete.length,
    freeBytes: fs.bavail * fs.bsize,
    totalBytes: fs.blocks * fs.bsize,
    stateDir,
  };
}

export async function checkpointDetail(engine: Engine, id: string): Promise<CheckpointDetail> {
  const checkpoint = await engine.desktops.getCheckpoint(id);
  const [dumpLog, ...restoreLogs] = await Promise.all([
    logTail(checkpoint.logPath, 'dump', id),
    ...checkpoint.restores.map((r) => logTail(r.logPath, 'restore', id)),
  ]);
  return { ...checkpointView(checkpoint), dumpLog, restoreLogs: restoreLogs.map((log) => log ?? null) };
}
