// A move's target side: the archive a fleet host sent (signed by its key, which the fleet's directory lists) is
// imported, its images judged (the trust check of every restore), and the desktop restored in a fresh room.
import 'server-only';
import { FreezeframeError } from '../errors';
import type { Desktops } from '../desktops/registry';
import type { Peers } from './peers';
import { dropPageServer, startPageServer, takePages } from './pageServer';

/** This host's own address in the fleet (its URL's), where a page server listens for a source's dump. */
export async function openPageServer(peers: Peers, config: { criuPath: string; stateDir: string }): Promise<{ transfer: string; address: string; port: number }> {
  const self = peers.get(peers.self);
  if (!self) throw new FreezeframeError('bad_state', `host ${peers.self} is not in its own fleet directory: no address for a page server`);
  return startPageServer({ ...config, address: new URL(self.url).hostname });
}

export interface Received {
  desktop: string;
  checkpoint: string;
  host: string;
  restoreMs: number;
  /** ms: the import (unpack, signature, home), the restore (trust check and criu). */
  phases: { importMs: number; restoreMs: number };
}

/**
 * pages: the page server (pageServer.ts) that received the dump's memory, when the move sent it that way.
 * lazy: a post-copy move: the source (from) serves the lazy pages on this port of its fleet address, fetched by
 * the restore's `criu lazy-pages` (the record says `fetching` until the last one, operations/pages.ts).
 */
export async function receiveMove(desktops: Desktops, peers: Peers, file: string, { pages, lazy }: { pages?: string; lazy?: { from: string; port: number } } = {}): Promise<Received> {
  const t0 = performance.now();
  const source = lazy ? peers.get(lazy.from) : undefined;
  if (lazy && !source) throw new FreezeframeError('not_found', `no host ${lazy.from} in the fleet: nowhere to fetch the lazy pages from`);
  // Only the fleet directory's address of the source: never one the request names.
  const lazyFrom = lazy ? { address: new URL(source!.url).hostname.replace(/^\[(.*)\]$/, '$1'), port: lazy.port } : undefined;
  const alsoTrusted = peers.all().filter((p) => p.id !== peers.self).map((p) => p.publicKey);
  const addImages = pages ? (images: string) => takePages(pages, images) : undefined;
  const { checkpoint, desktop } = await desktops.importCheckpoint(file, { alsoTrusted, moving: true, addImages }).catch((error: unknown) => {
    if (pages) dropPageServer(pages);
    throw error;
  });
  if (checkpoint.desktopSpec?.kind !== 'contained') {
    throw new FreezeframeError('invalid', `checkpoint ${checkpoint.id} is of a desktop on its host's display: only a self-contained desktop moves`);
  }
  const t1 = performance.now();
  try {
    const restored = await desktops.restore(checkpoint.id, lazyFrom ? { lazyFrom } : {});
    return { desktop: desktop.id, checkpoint: checkpoint.id, host: peers.self, restoreMs: restored.restoreMs, phases: { importMs: t1 - t0, restoreMs: performance.now() - t1 } };
  } catch (error) {
    // The source still has the images and runs the desktop again: nothing of it is left here to be confused with it.
    await desktops.deleteCheckpoint(checkpoint.id).catch(() => {});
    await desktops.remove(desktop.id).catch(() => {});
    throw error;
  }
}
