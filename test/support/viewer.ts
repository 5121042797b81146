// A viewer of a desktop for the tests, wherever its Xvnc listens (a host port, or inside its own network
// namespace), and what criu's network lock left where that desktop's connections live.
import type { Desktops } from '../../server/desktops/registry';
import type { DesktopRecord } from '../../server/desktops/records';
import { isContained, roomOf, vncTargetOf } from '../../server/desktops/rooms';
import { listCriuRules } from '../../server/desktops/cleanup';
import type { RfbOptions } from '../../server/vnc/rfbClient';
import { connectRfb } from '../../server/vnc/target';
import { connectInNamespace } from '../../server/sandbox/netnsSocket';

export function connectViewer(desktops: Desktops, record: DesktopRecord, options: RfbOptions & { timeoutMs?: number } = {}) {
  return connectRfb(vncTargetOf(desktops.paths, record), options);
}

/**
 * criu's network lock still in force for the desktop: iptables DROP rules for its port on the host; inside a contained
 * desktop's namespace (an nftables table there, which no `nft` binary here can list), a new connection to its Xvnc
 * that gets no answer: the lock drops every packet.
 */
export async function lockRules(desktops: Desktops, record: DesktopRecord): Promise<string[]> {
  if (!isContained(record)) return listCriuRules(record.vncPort);
  const target = vncTargetOf(desktops.paths, record);
  try {
    (await connectInNamespace(target.netnsPath!, target.port, { timeoutMs: 3_000 })).destroy();
    return [];
  } catch (error) {
    return [`no connection in ${roomOf(desktops.paths, record.id).netns}: ${(error as Error).message}`];
  }
}
