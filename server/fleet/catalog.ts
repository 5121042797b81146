// The catalog: this host's desktops and checkpoints in etcd, without secrets (the redacted views, then only the
// fields fleet.md names). A sync puts what changed and deletes what this host no longer has; it runs after every
// desktop event and at every membership tick, so a catalog missed while etcd was away is made whole again.
import type { CheckpointRecord, DesktopRecord } from '../desktops/records';
import { checkpointView, desktopView } from '../api/redact';
import type { EtcdClient } from './etcd';
import { keys, type FleetCheckpoint, type FleetDesktop } from './peers';

export function catalogDesktop(record: DesktopRecord, host: string): FleetDesktop {
  const { id, state, geometry, apps, kind, updatedAt } = desktopView(record);
  return { id, host, state, geometry, apps, kind: kind ?? 'host', updatedAt };
}

export function catalogCheckpoint(record: CheckpointRecord, host: string): FleetCheckpoint {
  const { id, desktop, createdAt, imageBytes, state } = checkpointView(record);
  return { id, desktop, host, createdAt, imageBytes, state };
}

const holding = (state: unknown) => state !== 'stopped' && state !== 'failed';

/**
 * Another host's entry for the same id (a desktop moved, or a checkpoint copied, to another host while this one keeps
 * its record): left alone, so two hosts never rewrite one key in turn at every sync. A desktop's entry passes to
 * this host only when it holds the desktop (not stopped or failed) and the other no longer does, or runs it while
 * the other does not.
 */
function heldElsewhere(theirs: string, ours: string, host: string): boolean {
  let other: { host?: string; state?: string };
  try {
    other = JSON.parse(theirs) as typeof other;
  } catch {
    return false;
  }
  if (other.host === undefined || other.host === host) return false;
  const mine = JSON.parse(ours) as { state?: string };
  if (!('state' in other) || mine.state === undefined) return true;
  // A move's target runs it while the source's entry still says frozen (checkpointed, until the target's answer
  // reaches it): running here beats frozen there, so the fleet names the new owner as soon as it runs.
  if (mine.state === 'running' && other.state !== 'running') return false;
  return !(holding(mine.state) && !holding(other.state));
}

export interface LocalRecords {
  list(): Promise<DesktopRecord[]>;
  checkpoints(): Promise<CheckpointRecord[]>;
}

/**
 * Makes etcd's catalog of this host equal to its records: desktops on the host's lease (a host that dies takes them
 * out of the fleet view after the TTL, as they die with it), checkpoints without one (their images stay on its disk).
 */
export async function syncCatalog(etcd: EtcdClient, records: LocalRecords, host: string, lease: string): Promise<{ put: number; deleted: number }> {
  const [desktops, checkpoints, inDesktops, inCheckpoints] = await Promise.all([
    records.list(),
    records.checkpoints(),
    etcd.list(keys.desktops),
    etcd.list(keys.checkpoints),
  ]);
  const wanted = new Map<string, { value: string; lease?: string }>();
  // A desktop that moved away (stopped here, movedTo) is the new owner's to list: not put, and our old entry deleted.
  for (const d of desktops) if (!(d.movedTo && d.state === 'stopped')) wanted.set(keys.desktops + d.id, { value: JSON.stringify(catalogDesktop(d, host)), lease });
  for (const c of checkpoints) wanted.set(keys.checkpoints + c.id, { value: JSON.stringify(catalogCheckpoint(c, host)) });
  const present = new Map([...inDesktops, ...inCheckpoints].map((kv) => [kv.key, kv]));
  let put = 0;
  let deleted = 0;
  const work: Promise<unknown>[] = [];
  for (const [key, want] of wanted) {
    const have = present.get(key);
    if (have && have.value === want.value && have.lease === want.lease) continue;
    if (have && heldElsewhere(have.value, want.value, host)) continue;
    put++;
    work.push(etcd.put(key, want.value, want.lease));
  }
  for (const kv of present.values()) {
    if (wanted.has(kv.key)) continue;
    let owner: string | undefined;
    try {
      owner = (JSON.parse(kv.value) as { host?: string }).host;
    } catch {
      // not ours to judge
    }
    if (owner !== host) continue;
    deleted++;
    work.push(etcd.delete(kv.key));
  }
  await Promise.all(work);
  return { put, deleted };
}
