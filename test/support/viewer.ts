// A viewer of a desktop for the tests, wherever its Xvnc listens (a host port, or inside its own network
// namespace), and what criu's network lock left where that desktop's connections live.
import type { Desktops } from '../../server/desktops/registry';
import type { DesktopRecord } from '../../server/desktops/records';
import { isContained, roomOf, vncTargetOf } from '../../server/desktops/rooms';
import { listCriuRules } from '../../server/desktops/cleanup';
import type { RfbClient, RfbOptions } from '../../server/vnc/rfbClient';
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

/** A click of the first button at (x, y), through the viewer (RFB PointerEvent): focus for typing. */
export function clickAt(client: RfbClient, x: number, y: number): void {
  for (const buttons of [1, 0]) {
    const m = Buffer.alloc(6);
    m.writeUInt8(5, 0);
    m.writeUInt8(buttons, 1);
    m.writeUInt16BE(x, 2);
    m.writeUInt16BE(y, 4);
    client.write(m);
  }
}

/** Types ASCII text and Return through the viewer (RFB KeyEvents, Latin-1 keysyms). */
export function typeLine(client: RfbClient, text: string): void {
  for (const keysym of [...text].map((c) => c.charCodeAt(0)).concat(0xff0d)) {
    for (const down of [1, 0]) {
      const m = Buffer.alloc(8);
      m.writeUInt8(4, 0);
      m.writeUInt8(down, 1);
      m.writeUInt32BE(keysym, 4);
      client.write(m);
    }
  }
}
