// The input schemas of every operation, shared by the server actions and the HTTP API so they cannot drift apart.
import { z } from 'zod';
import { checkpointIdPattern, desktopIdPattern } from '../../lib/ids';
import { retentionLimits } from '../../lib/retention';
import { appPresets, checkCommand, commandLimits, parseGeometry } from '../../lib/presets';

/** Desktop and checkpoint ids (lib/ids.ts); anything else is refused early. */
export const desktopId = z.string().regex(desktopIdPattern, 'not a desktop id');
export const checkpointId = z.string().regex(checkpointIdPattern, 'not a checkpoint id');

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

/** A command of the user's own, as argv (never a shell string): checked like the engine checks it. */
const command = z.array(z.string()).superRefine((argv, ctx) => {
  try {
    checkCommand(argv);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const startInput = z
  .strictObject({
    geometry: geometry.optional(),
    apps: z.array(appName).max(8).optional(),
    commands: z.array(command).max(commandLimits.maxCommands).optional(),
  })
  .refine((input) => input.apps === undefined || input.apps.length > 0 || (input.commands?.length ?? 0) > 0, {
    message: 'choose at least one app or give a command',
    path: ['apps'],
  });

export const checkpointInput = z.strictObject({
  leaveRunning: z.boolean().optional(),
});

/**
 * stopRunning: a running desktop is stopped first (the caller confirmed); otherwise it is refused (409).
 * lazy: criu restore --lazy-pages (true), the memory read first (false), or by image size ('auto'); absent: the
 * installation's default (FREEZEFRAME_LAZY, auto).
 */
export const restoreOptions = z.strictObject({
  stopRunning: z.boolean().optional(),
  lazy: z.union([z.boolean(), z.literal('auto')]).optional(),
});

/** count: how many clones (server/desktops/operations/clone.ts's maxClones). */
export const cloneOptions = z.strictObject({
  count: z.number().int().min(1).max(16).optional(),
});

/** Restore by desktop: its latest complete checkpoint unless one is named. */
export const restoreInput = restoreOptions.extend({
  desktopId,
  checkpointId: checkpointId.optional(),
});

/** A retention policy; null (or a missing field) is no such limit. */
export const retentionInput = z.strictObject({
  keepLast: z.number().int().min(retentionLimits.keepLast.min).max(retentionLimits.keepLast.max).nullable().optional(),
  maxBytes: z.number().int().min(retentionLimits.maxBytes.min).max(retentionLimits.maxBytes.max).nullable().optional(),
});

export const pinInput = z.strictObject({ pinned: z.boolean() });

export type RetentionInput = z.infer<typeof retentionInput>;
export type StartInput = z.infer<typeof startInput>;
export type CheckpointInput = z.infer<typeof checkpointInput>;
export type RestoreOptions = z.infer<typeof restoreOptions>;
export type RestoreInput = z.infer<typeof restoreInput>;
