// The audience's reads: one desktop's watch view, now and as it changes (what a view token may see). In a fleet, a
// desktop that runs on another host is read from there with the fleet key (its events relayed: app/api/desktops/
// [id]/watch/events), so an audience link of this host works for it as for a local one.
import 'server-only';
import { getEngine } from '../engineHandle';
import { FreezeframeError } from '../errors';
import type { DesktopRecord } from '../desktops/records';
import type { DesktopEvent } from '../desktops/events';
import { subscribe } from './eventHub';
import { checkpointThumbnail } from './operations';
import { attempt, invalid, type Result } from './results';
import { desktopId } from './schemas';
import { toWatchView, type WatchView } from '../../lib/watchView';
import type { Peer } from '../fleet/peers';

async function frozenSince(desktop: DesktopRecord): Promise<string | undefined> {
  if (desktop.state !== 'checkpointed' || !desktop.lastCheckpoint) return undefined;
  const checkpoint = await getEngine().desktops.getCheckpoint(desktop.lastCheckpoint).catch(() => undefined);
  return checkpoint?.createdAt;
}

/**
 * The host that runs this desktop when it is another one: this host does not have it, or keeps only the record of
 * its move away.
 */
export async function ownerElsewhere(id: string): Promise<Peer | undefined> {
  const { fleet, desktops } = getEngine();
  if (!fleet) return undefined;
  if (fleet.movedFromHere(id)) return fleet.ownerOf(id);
  const here = await desktops.get(id).then(() => true, () => false);
  return here ? undefined : fleet.ownerOf(id);
}

export async function getWatchView(id: unknown): Promise<Result<{ desktop: WatchView; serverTime: string }>> {
  const parsed = desktopId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'desktop id');
  const { fleet } = getEngine();
  const there = async (owner: Peer) => {
    const { forward } = await import('../fleet/remote');
    return forward<{ desktop: WatchView; serverTime: string }>(fleet!, owner, `/api/desktops/${parsed.data}/watch`);
  };
  // Moved away from here: its owner's view (this host's record is only where it went).
  const moved = fleet?.movedFromHere(parsed.data) ? fleet.ownerOf(parsed.data) : undefined;
  if (moved) return there(moved);
  const here = await attempt(async () => {
    const desktop = await getEngine().desktops.get(parsed.data);
    return { desktop: toWatchView(desktop, await frozenSince(desktop)), serverTime: new Date().toISOString() };
  });
  const owner = !here.ok && here.status === 404 ? fleet?.ownerOf(parsed.data) : undefined;
  return owner ? there(owner) : here;
}

/** The PNG of the screen just before the desktop froze, while it is frozen; not_found otherwise. */
export async function frozenThumbnail(id: unknown): Promise<Result<{ file: string }>> {
  const parsed = desktopId.safeParse(id);
  if (!parsed.success) return invalid(parsed.error, 'desktop id');
  return attempt(async () => {
    const desktop = await getEngine().desktops.get(parsed.data);
    if (desktop.state !== 'checkpointed' || !desktop.lastCheckpoint) throw new FreezeframeError('not_found', `desktop ${desktop.id} is not frozen`);
    const result = await checkpointThumbnail(desktop.lastCheckpoint);
    if (!result.ok) throw new FreezeframeError('not_found', `desktop ${desktop.id} has no picture of its freeze`);
    return result;
  });
}

/** Calls onView with the desktop's watch view after each of its events, in order, until the returned function. */
export function subscribeWatch(id: string, onView: (view: WatchView, type: DesktopEvent['type']) => void): () => void {
  // Views are built one after another (a checkpoint record may be read), so they arrive in the events' order.
  let chain = Promise.resolve();
  return subscribe((event) => {
    if (event.desktop.id !== id) return;
    const desktop = structuredClone(event.desktop);
    const since = event.checkpoint?.id === desktop.lastCheckpoint ? event.checkpoint?.createdAt : undefined;
    chain = chain.then(async () => onView(toWatchView(desktop, since ?? (await frozenSince(desktop))), event.type)).catch(() => {});
  });
}
