// This host's membership: its Peer under /freezeframe/hosts/<id> on a lease (TTL 10 s), kept alive every 3 s with its
// free memory refreshed; a lease etcd lost (expired while it was unreachable) is granted anew and the catalog put
// again on it.
import type { EtcdClient } from './etcd';
import { memAvailableBytes } from './hostInfo';
import { keys, type Peer } from './peers';

export const leaseTtlSeconds = 10;
/** A third of the TTL: two keepalives may be lost before the lease expires. */
export const tickMs = (leaseTtlSeconds * 1000) / 3;

export interface MembershipTick {
  lease: string;
  /** A new lease (first tick, or the old one was lost): everything on it must be put again. */
  renewed: boolean;
}

export function membership(etcd: EtcdClient, self: Omit<Peer, 'memAvailableBytes' | 'seenAt'>) {
  let lease: string | undefined;
  return {
    get lease() {
      return lease;
    },
    /** One round: a lease (granted or kept alive) and the Peer put on it. Throws while etcd is unreachable. */
    async tick(): Promise<MembershipTick> {
      let renewed = false;
      if (lease !== undefined && (await etcd.keepAlive(lease)) <= 0) lease = undefined;
      if (lease === undefined) {
        lease = await etcd.grant(leaseTtlSeconds);
        renewed = true;
      }
      const peer: Peer = { ...self, memAvailableBytes: await memAvailableBytes(), seenAt: new Date().toISOString() };
      await etcd.put(keys.hosts + self.id, JSON.stringify(peer), lease);
      return { lease, renewed };
    },
    /** Leaves the fleet at once (a clean stop): the Peer and the desktops on the lease go with it. */
    async leave(): Promise<void> {
      if (lease === undefined) return;
      const id = lease;
      lease = undefined;
      await etcd.revoke(id).catch(() => {});
    },
  };
}
