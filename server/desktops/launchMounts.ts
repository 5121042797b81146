// The mounts a desktop's tree had when this server launched it, kept beside its record: what a checkpoint made here
// may name at restore even once the host has unmounted it (the trust check compares images' mounts with the host's).
import 'server-only';
import { readFile } from 'node:fs/promises';
import { parseMountinfo } from '../criu/trust';
import type { Mount } from '../criu/trustRules';
import { readJson, writeJsonAtomic } from '../store/jsonFiles';

/**
 * Reads the tree's mount table from /proc and saves it (root's, 0600). newns made it private (rprivate) and the tree
 * has no capability to mount: this table is the tree's for its whole life, and every checkpoint's mountpoints images
 * hold exactly it (as every restore recreates it).
 */
export async function saveLaunchMounts(pid: number, file: string): Promise<void> {
  await writeJsonAtomic(file, parseMountinfo(await readFile(`/proc/${pid}/mountinfo`, 'utf8')));
}

/** The saved table; undefined when there is none (an imported desktop, or one started before this existed). */
export async function readLaunchMounts(file: string): Promise<Mount[] | undefined> {
  return readJson<Mount[]>(file);
}
