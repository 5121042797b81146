'use server';
// Checkpoint and Restore, as server actions: the input is validated (zod) and the result typed, never thrown.
import { checkpointDesktop, deleteCheckpoint, restoreDesktop, stopDesktop } from '@/server/api/operations';
import type { CheckpointInput, RestoreInput } from '@/server/api/schemas';

/** criu dump of the whole desktop; the picture freezes and its processes are gone until a restore. */
export async function checkpointAction(desktopId: string, input: CheckpointInput = {}) {
  return checkpointDesktop(desktopId, input);
}

/** criu restore of the desktop's latest checkpoint, or of the one named; the viewer's connection carries on. */
export async function restoreAction(input: RestoreInput) {
  return restoreDesktop(input);
}

export async function stopAction(desktopId: string) {
  return stopDesktop(desktopId);
}

/** Frees a checkpoint's disk space; its desktop is untouched. */
export async function deleteCheckpointAction(checkpointId: string) {
  return deleteCheckpoint(checkpointId);
}
