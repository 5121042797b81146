// A small etcd v3 client over its JSON gateway (etcd 3.4 serves it at /v3/): put, range, delete, leases and a watch,
// with fetch (peerCall.ts: an https etcd is trusted as a peer is, FREEZEFRAME_FLEET_CA). Keys and values travel
// base64; this file turns them into strings. No dependency: the gRPC client (etcd3 on npm) would bring grpc-js and
// protobufs for the five calls the fleet makes.
import { peerFetch } from './peerCall';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The key just past every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]++;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

export interface KeyValue {
  key: string;
  value: string;
  lease?: string;
  modRevision: number;
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
}

export class EtcdError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EtcdError';
  }
}

export interface EtcdClient {
  endpoints: string[];
  put(key: string, value: string, lease?: string): Promise<void>;
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key under the prefix. */
  list(prefix: string): Promise<KeyValue[]>;
  delete(key: string): Promise<number>;
  /** A lease of `ttlSeconds`; its id (a decimal string: etcd's int64 ids do not fit a JS number). */
  grant(ttlSeconds: number): Promise<string>;
  /** The lease's TTL after a keepalive; 0 when etcd no longer has it (expired: grant a new one). */
  keepAlive(lease: string): Promise<number>;
  /** Ends a lease now: every key on it goes. */
  revoke(lease: string): Promise<void>;
  /** Changes under the prefix until the signal aborts; throws when the stream breaks (etcd gone). */
  watch(prefix: string, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

type Json = Record<string, any>;

export function etcdClient(endpointList: string | string[], { timeoutMs = 1_500 }: { timeoutMs?: number } = {}): EtcdClient {
  const endpoints = (Array.isArray(endpointList) ? endpointList : endpointList.split(',')).map((e) => e.trim().replace(/\/+$/, '')).filter(Boolean);
  if (!endpoints.length) throw new EtcdError('no etcd endpoint given');
  // The endpoint that answered last is tried first: a dead member costs one timeout, not one per call.
  let preferred = 0;

  async function call(path: string, body: Json): Promise<Json> {
    let last: unknown;
    for (let n = 0; n < endpoints.length; n++) {
      const at = (preferred + n) % endpoints.length;
      try {
        const response = await peerFetch(`${endpoints[at]}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        if (!response.ok) throw new EtcdError(`etcd ${endpoints[at]}${path} answered ${response.status}: ${text.trim().slice(0, 300)}`);
        preferred = at;
        // The keepalive is a stream of results: its first line is the answer.
        const parsed = JSON.parse(text.split('\n')[0]) as Json;
        if (parsed.error) throw new EtcdError(`etcd ${endpoints[at]}${path}: ${parsed.error.message ?? JSON.stringify(parsed.error)}`);
        return parsed.result ?? parsed;
      } catch (error) {
        last = error;
      }
    }
    throw last instanceof EtcdError ? last : new EtcdError(`etcd unreachable at ${endpoints.join(', ')}: ${(last as Error)?.message ?? last}`, { cause: last });
  }

  const kv = (k: Json): KeyValue => ({ key: unb64(k.key), value: unb64(k.value), lease: k.lease && k.lease !== '0' ? String(k.lease) : undefined, modRevision: Number(k.mod_revision ?? 0) });

  return {
    endpoints,
    async put(key, value, lease) {
      await call('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
    },
    async get(key) {
      const r = await call('/v3/kv/range', { key: b64(key) });
      return r.kvs?.length ? kv(r.kvs[0]) : undefined;
    },
    async list(prefix) {
      const r = await call('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) });
      return (r.kvs ?? []).map(kv);
    },
    async delete(key) {
      const r = await call('/v3/kv/deleterange', { key: b64(key) });
      return Number(r.deleted ?? 0);
    },
    async grant(ttlSeconds) {
      const r = await call('/v3/lease/grant', { TTL: ttlSeconds });
      if (!r.ID) throw new EtcdError(`etcd granted no lease: ${JSON.stringify(r)}`);
      return String(r.ID);
    },
    async keepAlive(lease) {
      const r = await call('/v3/lease/keepalive', { ID: lease });
      return Number(r.TTL ?? 0);
    },
    async revoke(lease) {
      await call('/v3/lease/revoke', { ID: lease });
    },
    async watch(prefix, onEvent, signal) {
      const response = await peerFetch(`${endpoints[preferred]}/v3/watch`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ create_request: { key: b64(prefix), range_end: prefixEnd(prefix) } }),
        signal,
      });
      if (!response.ok || !response.body) throw new EtcdError(`etcd watch answered ${response.status}`);
      const decoder = new TextDecoder();
      let pending = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        pending += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (!line) continue;
          const message = JSON.parse(line) as Json;
          if (message.error) throw new EtcdError(`etcd watch: ${message.error.message}`);
          for (const e of message.result?.events ?? []) {
            onEvent({ type: e.type === 'DELETE' ? 'DELETE' : 'PUT', key: unb64(e.kv?.key), value: unb64(e.kv?.value) });
          }
        }
      }
      if (!signal.aborted) throw new EtcdError('etcd watch stream ended');
    },
  };
}
