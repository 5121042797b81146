// Another host's Server-Sent Events for one desktop, relayed to this host's pages (the page of a desktop that runs
// elsewhere is live like a local one): one upstream stream per (desktop, path) however many pages watch it, opened
// with the fleet key only while at least one page watches, following the desktop to whichever host owns it, and
// reconnecting (the pages told the relay is stale meanwhile) when that host goes away. The browser talks only to
// this host. Pure of Next.js and of the engine: the owner lookup and the call are handed in (test/remoteEvents.test.ts).
import type { Peer } from './peers';

export interface FeedMessage {
  event: string;
  data: unknown;
}

/**
 * Where a watched desktop's events come from: host undefined, from nowhere else (it is here, or no host is known
 * to run it); else that host's, live (connected) or not (its owner cannot be reached: what the page shows is stale).
 */
export interface FeedLink {
  host?: string;
  live: boolean;
}

export interface FeedWatcher {
  onMessage(message: FeedMessage): void;
  onLink(link: FeedLink): void;
}

export interface FeedDeps {
  ownerOf(desktopId: string): Peer | undefined;
  /** A GET on the owner with the fleet key (Fleet.call); the signal ends it. */
  call(peer: Peer, path: string, init: RequestInit): Promise<Response>;
  /** How often the owner is looked up again (a move changes it; the fleet view is read once a second). */
  checkMs?: number;
  /** First delay before a reconnect, doubled up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Nothing from the owner for this long is a dead link: the owner's streams send a comment every 15 s. */
  silentMs?: number;
  /** No answer to the request for this long (an owner whose machine is gone: no refusal, only silence): stale. */
  answerMs?: number;
  /** A relayed desktop in no host's catalog entry for this long (its owner's lease ran out): stale. */
  absentMs?: number;
}

export interface RemoteFeeds {
  /** Relays `path` of the owner of desktopId to watcher while that owner is another host; returns how to stop. */
  watch(desktopId: string, path: string, watcher: FeedWatcher): () => void;
  /** Upstream streams open now (connected or connecting). */
  open(): number;
  close(): void;
}

interface Feed {
  watchers: Set<FeedWatcher>;
  link: FeedLink;
  stop: () => void;
}

export function remoteFeeds(deps: FeedDeps): RemoteFeeds {
  const { checkMs = 1_000, retryMs = 500, maxRetryMs = 5_000, silentMs = 40_000, answerMs = 5_000, absentMs = 3_000 } = deps;
  const feeds = new Map<string, Feed>();
  let upstreams = 0;

  const start = (desktopId: string, path: string, feed: Feed) => {
    let stopped = false;
    let abort: AbortController | undefined;
    let wake: (() => void) | undefined;
    /** Resolves after ms, or at once when the feed stops. */
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => ((wake = undefined), resolve()), ms);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
    const tell = (link: FeedLink) => {
      if (link.host === feed.link.host && link.live === feed.link.live) return;
      feed.link = link;
      for (const w of feed.watchers) w.onLink(link);
    };
    feed.stop = () => {
      stopped = true;
      abort?.abort();
      wake?.();
    };

    void (async () => {
      let delay = retryMs;
      let absentSince: number | undefined;
      while (!stopped) {
        const peer = deps.ownerOf(desktopId);
        if (!peer) {
          // Here, or unknown: nothing to relay. One that was relayed and is in no host's entry for a while (its
          // owner's lease ran out): stale, not live. Not at once: between a move's two entries it is in none for
          // up to a second or two, and the page would flash stale.
          absentSince ??= Date.now();
          if (feed.link.host !== undefined && Date.now() - absentSince >= absentMs) tell({ host: feed.link.host, live: false });
          await pause(checkMs);
          continue;
        }
        absentSince = undefined;
        const controller = (abort = new AbortController());
        upstreams++;
        // The owner changes (a move) or goes quiet: this stream ends and the loop finds the owner again.
        const askedAt = Date.now();
        let silentSince: number | undefined; // from the owner's answer on
        const check = setInterval(() => {
          if (deps.ownerOf(desktopId)?.id !== peer.id) controller.abort(new Error('the desktop has another owner'));
          else if (silentSince === undefined && Date.now() - askedAt > answerMs) controller.abort(new Error(`no answer from ${peer.id} within ${answerMs} ms`));
          else if (silentSince !== undefined && Date.now() - silentSince > silentMs) controller.abort(new Error(`nothing from ${peer.id} for ${silentMs} ms`));
        }, Math.min(checkMs, 1_000));
        try {
          const response = await deps.call(peer, path, { headers: { Accept: 'text/event-stream' }, signal: controller.signal });
          if (!response.ok || !response.body) throw new Error(`${peer.id} answered ${response.status}`);
          silentSince = Date.now();
          tell({ host: peer.id, live: true });
          delay = retryMs;
          const parse = sseParser((message) => {
            if (message.event === 'hello') return; // this host's own stream said hello to the page
            for (const w of feed.watchers) {
              try {
                w.onMessage(message);
              } catch (error) {
                console.error('[remote events]', error); // one broken page must not stop the others
              }
            }
          });
          const decoder = new TextDecoder();
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            silentSince = Date.now();
            parse(decoder.decode(chunk, { stream: true }));
          }
        } catch {
          // Refused, unreachable, dropped, aborted: said below, then tried again (unless stopped).
        } finally {
          clearInterval(check);
          controller.abort(); // a refusal's body unread, or a stream left: its connection is let go either way
          upstreams--;
        }
        if (stopped) break;
        // Another owner already: connect there at once. Else the owner is gone for now: stale, and try again.
        if (deps.ownerOf(desktopId)?.id !== peer.id) continue;
        tell({ host: peer.id, live: false });
        await pause(delay);
        delay = Math.min(delay * 2, maxRetryMs);
      }
    })();
  };

  return {
    watch(desktopId, path, watcher) {
      const key = `${desktopId} ${path}`;
      let feed = feeds.get(key);
      if (!feed) {
        feed = { watchers: new Set(), link: { live: true }, stop: () => {} };
        feeds.set(key, feed);
        feed.watchers.add(watcher);
        start(desktopId, path, feed);
      } else {
        feed.watchers.add(watcher);
        // A page that joins a relayed feed learns where its events come from at once.
        if (feed.link.host !== undefined) watcher.onLink(feed.link);
      }
      const joined = feed;
      return () => {
        if (!joined.watchers.delete(watcher) || joined.watchers.size > 0) return;
        joined.stop();
        if (feeds.get(key) === joined) feeds.delete(key);
      };
    },
    open: () => upstreams,
    close() {
      for (const feed of feeds.values()) feed.stop();
      feeds.clear();
    },
  };
}

/** A Server-Sent Events parser: text in as it arrives, each complete message out (data parsed as JSON). */
export function sseParser(onMessage: (message: FeedMessage) => void): (text: string) => void {
  let buffer = '';
  let pending = ''; // a CR at a chunk's end: the first half of a CRLF, or a line end of its own
  return (text) => {
    const joined = pending + text;
    pending = joined.endsWith('\r') ? '\r' : '';
    buffer += (pending ? joined.slice(0, -1) : joined).replace(/\r\n?/g, '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      try {
        onMessage({ event, data: JSON.parse(data.join('\n')) });
      } catch {
        // Not JSON: none of this server's streams sends that; skipped.
      }
    }
  };
}
