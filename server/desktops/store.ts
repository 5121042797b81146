// The desktops' and checkpoints' records on disk: read, written atomically, each desktop's state moved only along
// its allowed transitions.
import 'server-only';
import { isCheckpointId, isDesktopId } from '../../lib/ids';
import { FreezeframeError } from '../errors';
import { readAllJson, readJson, writeJsonAtomic, type Durability } from '../store/jsonFiles';
import type { CheckpointRecord, DesktopRecord, Paths } from './records';
import { assertTransition, type DesktopState } from '../../lib/states';

export class RecordStore {
  /** updatedAt of the last record version this process wrote, per desktop. */
  private readonly ownWrites = new Map<string, string>();

  constructor(
    readonly paths: Paths,
    private readonly clock: { now(): string },
  ) {}

  async save(record: DesktopRecord, options?: { durable?: Durability }): Promise<DesktopRecord> {
    record.updatedAt = this.clock.now();
    this.ownWrites.set(record.id, record.updatedAt);
    await writeJsonAtomic(this.paths.desktopRecord(record.id), record, options);
    return record;
  }

  async setState(record: DesktopRecord, state: DesktopState, changes: Partial<DesktopRecord> = {}, options?: { durable?: Durability }): Promise<DesktopRecord> {
    assertTransition(record.state, state);
    Object.assign(record, changes, { state });
    return this.save(record, options);
  }

  /** Whether this very version of a record was written by this process (see recordFollower.ts). */
  wroteLast(record: DesktopRecord): boolean {
    return this.ownWrites.get(record.id) === record.updatedAt;
  }

  async load(id: string): Promise<DesktopRecord> {
    if (!isDesktopId(id)) throw new FreezeframeError('invalid', `"${id}" is not a desktop id`);
    const record = await readJson<DesktopRecord>(this.paths.desktopRecord(id));
    if (!record) throw new FreezeframeError('not_found', `no desktop ${id}`);
    return record;
  }

  /** The record as it is on disk, or undefined when there is none. */
  find(id: string): Promise<DesktopRecord | undefined> {
    return readJson<DesktopRecord>(this.paths.desktopRecord(id));
  }

  all(): Promise<DesktopRecord[]> {
    return readAllJson<DesktopRecord>(this.paths.desktops(), 'desktop.json');
  }

  async getCheckpoint(id: string): Promise<CheckpointRecord> {
    if (!isCheckpointId(id)) throw new FreezeframeError('invalid', `"${id}" is not a checkpoint id`);
    const record = await readJson<CheckpointRecord>(this.paths.checkpointRecord(id));
    if (!record) throw new FreezeframeError('not_found', `no checkpoint ${id}`);
    return record;
  }

  async checkpoints(desktopId?: string): Promise<CheckpointRecord[]> {
    const all = await readAllJson<CheckpointRecord>(this.paths.checkpoints(), 'checkpoint.json');
    return all
      .filter((c) => !desktopId || c.desktop === desktopId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async saveCheckpoint(record: CheckpointRecord, options?: { durable?: Durability }): Promise<CheckpointRecord> {
    await writeJsonAtomic(this.paths.checkpointRecord(record.id), record, options);
    return record;
  }
}
