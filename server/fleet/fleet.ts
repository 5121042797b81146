// A host in the fleet: membership, the catalog and the view, running in the background while the server serves.
// Each loop swallows etcd's absence (the view says stale) and never stops this host from serving its own desktops.
import 'server-only';
import { publicKeyLine } from '../checkpoints/keys';
import type { FleetConfig } from '../config';
import type { DesktopEvent } from '../desktops/events';
import type { Desktops } from '../desktops/registry';
import { syncCatalog } from './catalog';
import { etcdClient, type EtcdClient } from './etcd';
import { readFleetKey } from './fleetKey';
import { membership, tickMs } from './membership';
import { peerFetch } from './peerCall';
import type { Peer } from './peers';
import { fleetView, pollMs, type FleetView } from './view';

export interface Fleet {
  self: string;
  peers: FleetView;
  etcd: EtcdClient;
  /** The fleet key (undefined: none configured, host-to-host calls carry nothing). Never in a list or event. */
  key: string | undefined;
  /**
   * The host that runs this desktop when it is another one: the catalog's, or (the catalog naming this host or no
   * one) where a start was forwarded or where the desktop moved from here.
   */
  ownerOf(desktopId: string): Peer | undefined;
  /** This host keeps only the record of a desktop that moved to another host (stopped, movedTo). */
  movedFromHere(desktopId: string): boolean;
  /**
   * This host started a desktop on another host (a forwarded start): where it runs is known before the catalog
   * says so (its owner puts it within milliseconds, this host reads it within a second; the page opens at once).
   */
  placed(desktopId: string, hostId: string): void;
  /** A call to another host's API with the fleet key (peerCall.ts: its TLS trust). */
  call(peer: Peer, path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export async function startFleet(config: FleetConfig, desktops: Desktops, { keyDir, fallbackUrl }: { keyDir: string; fallbackUrl: string }): Promise<Fleet> {
  const etcd = etcdClient(config.etcd);
  const key = config.keyFile ? await readFleetKey(config.keyFile) : undefined;
  const self = config.hostId;
  const member = membership(etcd, { id: self, url: config.publicUrl ?? fallbackUrl, publicKey: await publicKeyLine(keyDir) });
  const view = fleetView(etcd, self);
  let closed = false;
  // Forwarded starts until the catalog lists them: a few entries, dropped once seen there or after a minute.
  const placements = new Map<string, { host: string; at: number }>();
  // Desktops that moved from here (record.movedTo), until this host has them again: the view read here (once a second)
  // may still name this host or no one, and a viewer reconnects at once (the 'moved' close) through this host's relay,
  // which must already know where to go. Kept from the events, so a forwarded call needs no read of the record.
  const movedAway = new Map<string, string>();
  const follow = (event: DesktopEvent): void => {
    const { id, movedTo } = event.desktop;
    if (movedTo && event.desktop.state === 'stopped') movedAway.set(id, movedTo.host);
    else movedAway.delete(id);
  };
  desktops.on('event', follow);
  for (const d of await desktops.list()) if (d.movedTo && d.state === 'stopped') movedAway.set(d.id, d.movedTo.host);

  // The catalog follows every event; syncs never overlap (one more runs after a burst).
  let syncing: Promise<void> | undefined;
  let again = false;
  const sync = (): void => {
    if (closed) return;
    if (syncing) {
      again = true;
      return;
    }
    const lease = member.lease;
    if (lease === undefined) return; // the next membership tick syncs
    syncing = syncCatalog(etcd, desktops, self, lease)
      .then(() => undefined, () => undefined)
      .finally(() => {
        syncing = undefined;
        if (again) {
          again = false;
          sync();
        }
      });
  };
  desktops.on('event', sync);

  const tick = async () => {
    try {
      await member.tick();
      sync();
    } catch {
      // etcd unreachable: the view goes stale by itself; the next tick tries again.
    }
  };
  /** A round still waiting on a slow etcd (3 calls of up to 1.5 s each) is not started twice: one lease, one read. */
  const once = (round: () => Promise<void>) => {
    let running = false;
    return () => {
      if (running || closed) return;
      running = true;
      void round().finally(() => (running = false));
    };
  };
  await tick();
  await view.refresh();
  const timers = [setInterval(once(tick), tickMs), setInterval(once(() => view.refresh()), pollMs)];
  for (const t of timers) t.unref();

  return {
    self,
    peers: view,
    etcd,
    key,
    ownerOf(desktopId) {
      const listed = view.desktop(desktopId)?.host;
      const hint = placements.get(desktopId);
      if (hint && (listed !== undefined || Date.now() - hint.at > 60_000)) placements.delete(desktopId);
      const host = listed !== undefined && listed !== self ? listed : (hint?.host ?? movedAway.get(desktopId));
      return host && host !== self ? view.get(host) : undefined;
    },
    movedFromHere: (desktopId) => movedAway.has(desktopId),
    placed(desktopId, hostId) {
      placements.set(desktopId, { host: hostId, at: Date.now() });
    },
    call(peer, path, init = {}) {
      return peerFetch(`${peer.url}${path}`, { ...init, key });
    },
    async close() {
      closed = true;
      for (const t of timers) clearInterval(t);
      desktops.off('event', sync);
      desktops.off('event', follow);
      await syncing;
      await member.leave();
    },
  };
}
