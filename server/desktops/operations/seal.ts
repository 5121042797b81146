// Marking a dumped checkpoint complete: the desktop's log as criu saw it, the images' size, CRIU's stats.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { recordedFileSize } from '../../checkpoints/inspect';
import { readStats } from '../../criu/images';
import type { CheckpointRecord, DesktopRecord } from '../records';
import type { OperationContext } from './context';
import { roomOf } from '../rooms';
import { inside } from '../../sandbox/layout';
import { copyLogTail } from '../../storage/logs';

export function directoryBytes(dir: string): number {
  // Synchronously: a dump's images are ~100 files, on the checkpoint's critical path; a stat of a file the kernel
  // has just written costs a few µs, while ~100 of them through libuv's 4-thread pool took 25 round trips (the seal
  // step took 2.5-12 ms at load 4-5, FREEZEFRAME_TRACE, overhead bench).
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    bytes += entry.isDirectory() ? directoryBytes(full) : statSync(full).size;
  }
  return bytes;
}

export async function sealCheckpoint(
  { paths, store }: OperationContext,
  checkpoint: CheckpointRecord,
  { dumpMs, command }: { dumpMs?: number; command?: string[] },
): Promise<void> {
  const images = paths.checkpointImages(checkpoint.id);
  const contained = checkpoint.desktopSpec?.kind === 'contained';
  const log = contained ? roomOf(paths, checkpoint.desktop).log : paths.desktopLog(checkpoint.desktop);
  // criu restores files at the size they had at the dump; the desktop's log is open in the tree and grows
  // after each restore, so a second restore of this checkpoint would fail ("has bad size") unless the log
  // is put back as it was at the dump. A snapshot's tree goes on writing, so the copy is cut to the size
  // criu recorded. Only its tail is kept, at its place (storage/logs.ts): criu checks the size, not the words.
  const logCopy = paths.checkpointDesktopLog(checkpoint.id);
  const [, stats, imageBytes] = await Promise.all([
    recordedFileSize(images, contained ? inside.log : log).catch(() => undefined).then((loggedBytes) => copyLogTail(log, logCopy, loggedBytes)),
    readStats(path.join(images, 'stats-dump')),
    directoryBytes(images),
  ]);
  Object.assign(checkpoint, {
    state: 'complete',
    dumpMs: dumpMs ?? (stats?.dump ? stats.dump.frozenMs : undefined),
    command: command ?? checkpoint.command,
    imageBytes,
    dumpStats: stats?.dump,
  });
  // fsynced just after (jsonFiles.ts): the images it vouches for are not fsynced by criu either.
  await store.saveCheckpoint(checkpoint, { durable: 'background' });
}

/** Records the PID of the criu at work, so that a server restarted meanwhile waits for it rather than judging. */
export async function noteCriu({ store }: OperationContext, record: DesktopRecord, criuPid: number): Promise<void> {
  // Written while criu writes its images: no fsync (a criu PID means nothing after a power loss).
  await store.save(Object.assign(record, { lastOperation: { ...record.lastOperation!, criuPid } }), { durable: false });
}
