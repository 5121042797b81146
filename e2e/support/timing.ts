// The time windows the tests rely on, each with the reason for its length.

/**
 * How long a frozen picture must stay the same. xclock -update 1 redraws its second hand every second, so a desktop
 * that still ran would change the canvas at least twice in 3 s: one picture for 3 s means frozen, not "sampled
 * between two ticks".
 */
export const FROZEN_SAMPLE_MS = 3_000;

/** How soon after Restore the picture must move: criu restore takes ~0.25 s and xclock redraws within 1 s. */
export const RESTORE_TO_MOTION_MS = 2_000;

/** How soon a freshly opened, running desktop must show a second picture (one xclock tick, with margin). */
export const LIVE_MOTION_MS = 5_000;
