'use server';
// The dashboard's server actions, for every page: start a desktop from the form (then open it), checkpoint,
// restore, stop, delete a checkpoint, pin one, set a retention policy, remove a stopped desktop. Each validates its input (zod) and returns a typed result, never throws.
import { redirect } from 'next/navigation';
import { revalidatePath } from 'next/cache';
import { checkpointDesktop, deleteCheckpoint, pinCheckpoint, removeDesktop, restoreDesktop, setRetention, startDesktop, stopDesktop, cloneCheckpoint } from '@/server/api/operations';
import type { Failure } from '@/server/api/results';
import { moveDesktop } from '@/server/api/fleetOperations';
import type { CheckpointInput, RestoreInput, RetentionInput } from '@/server/api/schemas';
import type { MoveMethod } from '@/lib/fleetTypes';

export type StartFormState = Failure | undefined;

/**
 * The form sends width, height, the chosen apps and maybe a command of the user's own, split at white space
 * into argv (no shell: quotes, pipes and variables mean nothing); the shared schema checks all of it.
 */
export async function startDesktopAction(_previous: StartFormState, form: FormData): Promise<StartFormState> {
  const width = String(form.get('width') ?? '').trim();
  const height = String(form.get('height') ?? '').trim();
  const command = String(form.get('command') ?? '').trim();
  const commands = command ? [command.split(/\s+/)] : undefined;
  const host = String(form.get('host') ?? '') || undefined; // a fleet's host, or placement's choice
  const result = await startDesktop({ geometry: `${width}x${height}`, apps: form.getAll('apps').map(String), commands, ...(host ? { host } : {}) });
  if (!result.ok) return result;
  revalidatePath('/');
  redirect(`/desktops/${result.desktop.id}`);
}

/** Moves the running desktop to another host of the fleet, by a method of docs/move.md; on failure it runs here again. */
export async function moveDesktopAction(desktopId: string, host: string, method: MoveMethod = 'copy') {
  const result = await moveDesktop(desktopId, { host, method });
  if (result.ok) revalidatePath('/');
  return result;
}

/** The one stop, from the dashboard's list and the desktop's page alike; its checkpoints stay. */
export async function stopDesktopAction(desktopId: string) {
  const result = await stopDesktop(desktopId);
  if (result.ok) revalidatePath('/');
  return result;
}

/** criu dump of the whole desktop; the picture freezes and its processes are gone until a restore. */
export async function checkpointAction(desktopId: string, input: CheckpointInput = {}) {
  return checkpointDesktop(desktopId, input, { replyFirst: true });
}

/** criu restore of the desktop's latest checkpoint, or of the one named; the viewer's connection carries on. */
export async function restoreAction(input: RestoreInput) {
  return restoreDesktop(input);
}

/**
 * A new desktop restored from the checkpoint (a clone: its own id, viewer and checkpoints). desktopId: the desktop it
 * was taken of (in a fleet, where the checkpoint is when this host's catalog does not list it yet), here and below.
 */
export async function cloneCheckpointAction(checkpointId: string, desktopId?: string) {
  const result = await cloneCheckpoint(checkpointId, { count: 1 }, { desktop: desktopId });
  if (result.ok) revalidatePath('/');
  return result;
}

/** Frees a checkpoint's disk space; its desktop is untouched. */
export async function deleteCheckpointAction(checkpointId: string, desktopId?: string) {
  return deleteCheckpoint(checkpointId, { desktop: desktopId });
}

/** Which checkpoints the desktop keeps (applied now, and after each checkpoint). */
export async function setRetentionAction(desktopId: string, input: RetentionInput) {
  return setRetention(desktopId, input);
}

/** A pinned checkpoint is never removed by the retention policy. */
export async function pinCheckpointAction(checkpointId: string, pinned: boolean, desktopId?: string) {
  return pinCheckpoint(checkpointId, { pinned }, { desktop: desktopId });
}

/** Removes a stopped desktop with its checkpoints (the page asked first); says how much space that freed. */
export async function removeDesktopAction(desktopId: string) {
  const result = await removeDesktop(desktopId);
  if (result.ok) revalidatePath('/');
  return result;
}
