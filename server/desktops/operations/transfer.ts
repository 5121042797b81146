// A checkpoint's images read, written out as one archive, brought in from one, or deleted.
import { access, link, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { madeCheckpointIdPattern, madeDesktopIdPattern } from '../../../lib/ids';
import { checkCriuNeeds } from '../../../lib/presets';
import { unpackArchive } from '../../checkpoints/archive';
import { verifyFolder, writeSignedArchive } from '../../checkpoints/signing';
import { homeBaseName, ownHomeBase, restoreHomeLinks, stageHomeBase } from '../../checkpoints/homeArchive';
import { inspectImages, type Inspection } from '../../checkpoints/inspect';
import { FreezeframeError } from '../../errors';
import { readJson, writeJsonAtomic } from '../../store/jsonFiles';
import { vncPasswordFile } from '../../vnc/vncAuth';
import type { CheckpointRecord, DesktopRecord } from '../records';
import { desktopFiles, type OperationContext } from './context';
import { roomOf } from '../rooms';
import { isReservedUid, reservedUids } from '../uids';
import { collectBases, removeCheckpointFiles } from '../../storage/checkpointFiles';
import { settlePages } from './pages';
import { flatten } from '../../storage/dedup';
import { readLog } from '../../storage/logs';
import { unpackPages } from '../../storage/packedPages';

/** The process tree, files, sockets and memory a checkpoint holds, decoded from its images. */
export async function inspectCheckpoint({ store, paths }: OperationContext, checkpointId: string): Promise<Inspection> {
  const checkpoint = await store.getCheckpoint(checkpointId);
  if (checkpoint.state !== 'complete') throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is ${checkpoint.state}: it has no images`);
  try {
    return await inspectImages(paths.checkpointImages(checkpointId));
  } catch (error) {
    throw new FreezeframeError('images_missing', `the images of checkpoint ${checkpointId} cannot be read: ${(error as Error).message}`, {}, { cause: error });
  }
}

/**
 * Writes a complete checkpoint as one zstd tar archive to file; its images whole (an archive must restore where
 * its base is not), staged in the state folder as hard links, the shared pages copied back in.
 */
export async function exportCheckpoint(ctx: OperationContext, checkpointId: string, file: string, options?: { level?: number }): Promise<{ checkpoint: string; file: string; bytes: number }> {
  const { desktop } = await ctx.store.getCheckpoint(checkpointId);
  // Under the desktop's lock: a delete or a restore (which writes its log and pidfile here) must wait, and so must
  // this export for a checkpoint's follow-up (its home copied into home-base/ after the reply, checkpoint.ts): the
  // record is read once the lock is held. Read before it, an export right after a Checkpoint (the API's answer
  // comes first) said homeBase false and left the home out: the imported Firefox failed on its first file.
  return ctx.locks.run(desktop, 'export', async () => {
    const checkpoint = await ctx.store.getCheckpoint(checkpointId);
    if (checkpoint.state !== 'complete') throw new FreezeframeError('bad_state', `checkpoint ${checkpointId} is ${checkpoint.state}: only a complete one can be exported`);
    const dir = ctx.paths.checkpointDir(checkpointId);
    await mkdir(ctx.paths.exports(), { recursive: true, mode: 0o700 });
    const staged = await mkdtemp(path.join(ctx.paths.exports(), `${checkpointId}-`));
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      for (const entry of entries) {
        if (!entry.isFile()) continue;
        // A packed log goes as the text it is (storage/logs.ts): the archive is compressed as a whole. (Both
        // there: a packing a crash cut short; the plain one is linked.)
        const packed = /^(.*\.log)\.gz$/.exec(entry.name)?.[1];
        if (entry.name.endsWith('.partial') || (packed && entries.some((e) => e.name === packed))) continue;
        if (packed) await writeFile(path.join(staged, packed), (await readLog(path.join(dir, packed))) ?? '', { mode: 0o600 });
        else await link(path.join(dir, entry.name), path.join(staged, entry.name));
      }
      await unpackPages(ctx.paths.checkpointImages(checkpointId));
      await flatten(ctx.paths.checkpointImages(checkpointId), path.join(staged, 'images'));
      // What a clone's home overlays, and an imported desktop's home: without it, nothing of the archive clones.
      if (checkpoint.homeBase) await stageHomeBase(ctx.paths.checkpointHomeBase(checkpointId), staged);
      await writeSignedArchive(staged, file, ctx.config.keyDir, options);
    } finally {
      await rm(staged, { recursive: true, force: true });
    }
    return { checkpoint: checkpointId, file, bytes: (await stat(file)).size };
  });
}

/**
 * Imports an archive made by exportCheckpoint, here or on another machine set up the same way (the same state
 * folder: criu's images name the desktop's log and home by their full paths). Its desktop is created, stopped,
 * if this machine does not have it; then the checkpoint restores like any other.
 */
export interface ImportOptions {
  /** More key lines to trust than the operator's list: the fleet's hosts', for a move (server/fleet/receive.ts). */
  alsoTrusted?: string[];
  /**
   * A desktop moving in: its record here, if any, must be one that moved away (it comes back, with the home of its
   * archive); a desktop that lives here is refused.
   */
  moving?: boolean;
  /** Once the archive's signature holds: more images put into its images/ folder (a move's pages, fleet/pageServer.ts). */
  addImages?: (imagesDir: string) => Promise<void>;
}

export async function importCheckpoint(ctx: OperationContext, file: string, options: ImportOptions = {}): Promise<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }> {
  const dir = await unpackArchive(file, ctx.paths.imports());
  return importFolder(ctx, dir, options);
}

/** importCheckpoint's part after the unpack (a move's target unpacks as the archive streams in); dir is consumed. */
export async function importFolder(ctx: OperationContext, dir: string, options: ImportOptions = {}): Promise<{ checkpoint: CheckpointRecord; desktop: DesktopRecord }> {
  const { paths, store, deps } = ctx;
  try {
    await verifyFolder(dir, ctx.config.keyDir, options.alsoTrusted);
    await options.addImages?.(path.join(dir, 'images'));
    // Only now, the archive traced to a trusted key: its home's links made again (plain files until here).
    await restoreHomeLinks(dir);
    const record = await readJson<CheckpointRecord>(path.join(dir, 'checkpoint.json'));
    if (!record || !madeCheckpointIdPattern.test(record.id) || !madeDesktopIdPattern.test(record.desktop) || record.state !== 'complete' || !record.desktopSpec) {
      throw new FreezeframeError('invalid', 'the archive holds no complete Freezeframe checkpoint');
    }
    await access(path.join(dir, 'images', 'inventory.img')).catch(() => {
      throw new FreezeframeError('invalid', 'the archive holds no images (images/inventory.img)');
    });
    if (await access(paths.checkpointDir(record.id)).then(() => true, () => false)) {
      throw new FreezeframeError('bad_state', `checkpoint ${record.id} is here already`);
    }
    const spec = record.desktopSpec;
    if (!Number.isInteger(spec.display) || spec.vncPort !== 5900 + spec.display) throw new FreezeframeError('invalid', 'the archive names an impossible display');
    if (typeof spec.vncPassword !== 'string' || !/^[A-Za-z0-9]{8}$/.test(spec.vncPassword)) throw new FreezeframeError('invalid', 'the archive holds no VNC password');
    // The view-only password came later: archives of older checkpoints have none, and are welcome.
    if (spec.vncViewPassword !== undefined && (typeof spec.vncViewPassword !== 'string' || !/^[A-Za-z0-9]{8}$/.test(spec.vncViewPassword))) {
      throw new FreezeframeError('invalid', 'the archive holds a malformed view-only VNC password');
    }
    // What its presets needed of criu, passed to its next dumps: only what a preset may ask.
    try {
      checkCriuNeeds(spec.criu);
    } catch (error) {
      throw new FreezeframeError('invalid', `the archive's desktop: ${(error as Error).message}`);
    }
    // A desktop with a uid of its own: that uid must be of the reserved range (it runs as it here too; criu
    // restores the ids as dumped). Anything else is refused now, not at its restore.
    if (spec.ownUser !== undefined && (spec.ownUser !== true || spec.kind !== 'contained' || !isReservedUid(spec.uid) || spec.gid !== spec.uid)) {
      throw new FreezeframeError('invalid', `the archive's desktop names ids that are no desktop's own (uid ${spec.uid}, gid ${spec.gid}): a desktop's own uid lies in ${reservedUids.min}-${reservedUids.max}`);
    }
    // The ids a contained desktop's home belongs to: its own uid's (checked above), else this installation's desktop
    // user's, never other ids an archive names (the trust check expects the same).
    const homeOwner = spec.kind === 'contained' && spec.ownUser ? { uid: spec.uid!, gid: spec.gid! } : ctx.user();
    // The home at the dump (archives of contained desktops' checkpoints since it was exported; none before), owned
    // as the home it runs as. Without it, no clone.
    const homeBase = path.join(dir, homeBaseName);
    if (spec.kind === 'contained' && (await stat(homeBase).then((s) => s.isDirectory(), () => false))) {
      record.homeBase = true;
      await ownHomeBase(homeBase, homeOwner);
    } else {
      delete record.homeBase;
      await rm(homeBase, { recursive: true, force: true });
    }
    let desktop = await store.find(record.desktop);
    if (desktop && options.moving) {
      if (!desktop.movedTo || desktop.state !== 'stopped') {
        throw new FreezeframeError('bad_state', `desktop ${record.desktop} lives on this host already (${desktop.state}): it cannot move in`);
      }
      if (spec.kind !== 'contained' || !record.homeBase) throw new FreezeframeError('invalid', 'only a self-contained desktop with its home moves');
      // Back from where it went: its room here is from before it left; its home is the archive's.
      await rm(roomOf(paths, record.desktop).home, { recursive: true, force: true });
      desktop = undefined;
    }
    if (!desktop) {
      // The restored Xvnc reads its password from this file, by the path it had at the dump; its programs keep
      // the uid they had there, which may not be this machine's desktop user's.
      const owner = Number.isInteger(spec.uid) && Number.isInteger(spec.gid) && spec.uid! > 0 && spec.gid! > 0 ? { uid: spec.uid!, gid: spec.gid! } : ctx.user();
      const password = vncPasswordFile(spec.vncPassword, spec.vncViewPassword);
      // A contained desktop's room: its folders here, whatever the state folder (its images name only inside
      // paths); its namespace is made at its restore. Its own uid is claimed here (possibly shared with the
      // original, as a clone shares it). Its home is the checkpoint's home-base (the files its programs had open at
      // the dump are there); empty for an older archive, which carries none.
      if (spec.kind === 'contained') {
        const room = roomOf(paths, record.desktop);
        if (spec.ownUser) {
          await ctx.uids.join(spec.uid!, record.desktop);
          await deps.rooms.prepare(room, password, homeOwner, { ownUser: true });
        } else await deps.rooms.prepare(room, password, homeOwner);
        // cp -a -T: home-base's content into the (empty) home.
        if (record.homeBase) await deps.rooms.copyHomeBase(homeBase, room.home);
      } else await deps.prepareDesktopFiles(desktopFiles(paths, record.desktop), password, owner);
      const at = deps.clock.now();
      const before = await store.find(record.desktop);
      desktop = await store.save({ ...(before ?? {}), id: record.desktop, ...spec, state: 'stopped', movedTo: undefined, homeBase: undefined, pid: undefined, pidStartTime: undefined, createdAt: before?.createdAt ?? at, updatedAt: at });
    }
    Object.assign(record, { importedAt: deps.clock.now(), logPath: paths.checkpointDumpLog(record.id) });
    await writeJsonAtomic(path.join(dir, 'checkpoint.json'), record);
    await rename(dir, paths.checkpointDir(record.id));
    return { checkpoint: record, desktop };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Deletes a checkpoint's record and files (its images stay while another checkpoint reads pages from them);
 * refused while its desktop is at work. Returns the bytes freed.
 */
export async function deleteCheckpoint(ctx: OperationContext, checkpointId: string): Promise<{ checkpoint: string; bytesFreed: number }> {
  const checkpoint = await ctx.store.getCheckpoint(checkpointId);
  return ctx.locks.run(checkpoint.desktop, 'delete checkpoint', async () => {
    await ctx.store.getCheckpoint(checkpointId); // still there under the lock
    // A lazy restore still reading these images: its last page first (a failed one has ended the tree already).
    const desktop = await ctx.store.load(checkpoint.desktop);
    if (desktop.fetching?.checkpoint === checkpointId) await settlePages(ctx, desktop).catch(() => {});
    const bytesFreed = (await removeCheckpointFiles(ctx.paths, checkpointId)) + (await collectBases(ctx.paths));
    ctx.emit({ type: 'pruned', desktop: await ctx.store.load(checkpoint.desktop), removed: [checkpointId], bytesFreed });
    return { checkpoint: checkpointId, bytesFreed };
  });
}
