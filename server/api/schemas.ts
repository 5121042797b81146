// The input schemas of every operation, shared by the server actions and the HTTP API so they cannot drift apart.
import { z } from 'zod';
import { appPresets, parseGeometry } from '../desktops/apps';

/** Desktop and checkpoint ids as the registry makes them ("d-1a2b3c4d", "c-…"); anything else is refused early. */
export const desktopId = z.string().regex(/^d-[a-z0-9]{1,60}$/, 'not a desktop id');
export const checkpointId = z.string().regex(/^c-[a-z0-9]{1,60}$/, 'not a checkpoint id');

const geometry = z.string().superRefine((value, ctx) => {
  try {
    parseGeometry(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const appName = z.string().refine((name) => Object.hasOwn(appPresets, name), {
  error: (issue) => `unknown app "${String(issue.input)}"; known: ${Object.keys(appPresets).join(', ')}`,
});

export const startInput = z.strictObject({
  geometry: geometry.optional(),
  apps: z.array(appName).min(1, 'choose at least one app').max(8).optional(),
});

export const checkpointInput = z.strictObject({
  leaveRunning: z.boolean().optional(),
});

/** stopRunning: a running desktop is stopped first (the caller confirmed); otherwise it is refused (409). */
export const restoreOptions = z.strictObject({
  stopRunning: z.boolean().optional(),
});

/** Restore by desktop: its latest complete checkpoint unless one is named. */
export const restoreInput = restoreOptions.extend({
  desktopId,
  checkpointId: checkpointId.optional(),
});

export type StartInput = z.infer<typeof startInput>;
export type CheckpointInput = z.infer<typeof checkpointInput>;
export type RestoreOptions = z.infer<typeof restoreOptions>;
export type RestoreInput = z.infer<typeof restoreInput>;
