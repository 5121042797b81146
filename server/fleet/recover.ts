// A move this server was in the middle of when it died (a record still `moving`): the target is asked whether the
// desktop lives there now. Yes: it is forgotten here, as a finished move. No: it runs here again, from the images it
// froze at. No answer: it stays frozen here, and the next start asks again (nothing is restored twice).
import 'server-only';
import type { Desktops } from '../desktops/registry';
import { toErrorInfo } from '../errorInfo';
import { callPeer } from './move';
import type { Peers } from './peers';

export interface Recovered {
  desktop: string;
  host: string;
  outcome: 'moved' | 'restored' | 'unknown';
  why?: string;
}

export async function recoverMoves(desktops: Desktops, peers: Peers, key: string | undefined): Promise<Recovered[]> {
  const out: Recovered[] = [];
  for (const record of await desktops.list()) {
    const moving = record.moving;
    if (!moving || record.state !== 'checkpointed' || record.lastCheckpoint !== moving.checkpoint) continue;
    const peer = peers.get(moving.host);
    try {
      if (!peer || !key) throw new Error(`host ${moving.host} is ${peer ? 'not reachable without the fleet key' : 'not in the fleet any more'}`);
      const answer = await callPeer(peer, key, `/api/desktops/${record.id}`, { timeoutMs: 5_000 });
      if (answer.ok) {
        const { desktop } = (await answer.json()) as { desktop?: { state?: string; movedTo?: unknown } };
        // It arrived there. A record there that says it moved away is from an earlier stay: it did not arrive.
        if (desktop?.state && !desktop.movedTo) {
          await desktops.forgetMoved(record.id, moving.host, moving.checkpoint);
          out.push({ desktop: record.id, host: moving.host, outcome: 'moved' });
          continue;
        }
      }
      else if (answer.status !== 404) throw new Error(`host ${moving.host} answered ${answer.status}`);
      // Not there: the archive never arrived whole. Back here.
      await desktops.markMoving(record.id, moving.checkpoint, undefined);
      await desktops.restore(moving.checkpoint);
      out.push({ desktop: record.id, host: moving.host, outcome: 'restored' });
    } catch (error) {
      out.push({ desktop: record.id, host: moving.host, outcome: 'unknown', why: toErrorInfo(error).message });
    }
  }
  return out;
}
