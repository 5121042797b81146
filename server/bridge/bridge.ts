// The WebSocket-to-TCP bridge from viewers (noVNC) to desktops' Xvnc, with a freeze gate per desktop.
import 'server-only';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DesktopEvent } from '../desktops/events';
import { Connection } from './connection';
import { BridgeError } from './errors';
import { Gate, type GatePhase } from './gate';
import { startHeartbeat } from './heartbeat';
import { closeCodes, closeReasons, defaultBridgeOptions, type BridgeOptions } from './options';
import { isSameOrigin, pickProtocol, refuseUpgrade } from './upgradeHttp';
import { isRemote, type RemoteTarget, type VncTarget } from '../vnc/target';
import { relayUpgrade } from './relay';
import { connectVnc, type VncSocket } from './vncSocket';

export interface BridgeDeps {
  /**
   * Where the desktop's Xvnc listens: a port on 127.0.0.1, of the host or inside the desktop's own network namespace;
   * or, in a fleet, the host that runs it (relayed there as it is); undefined when there is no such desktop or it is
   * stopped.
   */
  lookup(desktopId: string): Promise<VncTarget | RemoteTarget | undefined>;
  /**
   * The desktops' events: the only way the bridge learns of freezes, restores and stops; 'resumed': a restore's tree
   * runs again, its records not yet written (the gate opens on it; the 'restored' event after it changes nothing).
   */
  events: EventEmitter<{ event: [DesktopEvent]; resumed: [DesktopEvent] }>;
}

export interface BridgeStatus {
  gate: GatePhase;
  /** Viewers whose WebSocket is open. */
  connections: number;
  /** Viewer->server bytes held for the desktop's thaw. */
  heldBytes: number;
}

export interface Bridge {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, desktopId: string): void;
  /** Read-only: how the bridge sees one desktop. */
  status(desktopId: string): BridgeStatus;
  close(): void;
}

interface DesktopLink {
  gate: Gate;
  connections: Set<Connection>;
}

export function createBridge(deps: BridgeDeps, overrides: Partial<BridgeOptions> = {}): Bridge {
  const options: BridgeOptions = { ...defaultBridgeOptions, ...overrides };
  const log = options.log;
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    // RFB data is mostly compressed pixels already; deflate would cost CPU and add latency for nothing.
    perMessageDeflate: false,
    maxPayload: options.maxPayloadBytes,
    handleProtocols: pickProtocol,
  });
  const links = new Map<string, DesktopLink>();
  let closed = false;

  const linkOf = (desktopId: string): DesktopLink => {
    let link = links.get(desktopId);
    if (!link) {
      link = { gate: new Gate(), connections: new Set() };
      links.set(desktopId, link);
    }
    return link;
  };
  /** A link that is open and has nobody connected carries no state worth keeping. */
  const forgetIfIdle = (desktopId: string) => {
    const link = links.get(desktopId);
    if (link && link.gate.phase === 'open' && link.connections.size === 0) links.delete(desktopId);
  };

  function applyEvent(event: DesktopEvent): void {
    const desktopId = event.desktop.id;
    const link = linkOf(desktopId);
    const step = link.gate.apply(event);
    if (!step.ok) {
      // E.g. this server started while the desktop was already frozen: nothing to do but say so.
      log(new BridgeError('gate_refused', `desktop ${desktopId}: ${step.reason}`, { desktopId, phase: step.from, input: step.input }));
    } else {
      for (const connection of [...link.connections]) {
        if (step.effect === 'hold') connection.freeze(link.gate.frozenIn);
        else if (step.effect === 'release') connection.release(step.restoredFrom);
        else if (step.effect === 'closeStopped') connection.close(closeCodes.desktopStopped, closeReasons.desktopStopped);
        else if (step.effect === 'closeLost') connection.close(closeCodes.vncLost, closeReasons.vncLost);
      }
    }
    forgetIfIdle(desktopId);
  }

  // The engine emits synchronously from inside its operations (the 'checkpointing' event comes before criu is even
  // spawned, which is what makes the hold start in time): whatever happens here must never throw back into it.
  const onEvent = (event: DesktopEvent) => {
    try {
      applyEvent(event);
    } catch (cause) {
      log(new BridgeError('event_failed', `desktop ${event.desktop?.id}: handling event "${event.type}" failed`, { desktopId: event.desktop?.id }, { cause }));
    }
  };
  deps.events.on('event', onEvent);
  deps.events.on('resumed', onEvent);

  const stopHeartbeat = startHeartbeat(function* () {
    for (const link of links.values()) yield* link.connections;
  }, options.pingIntervalMs);

  function attach(desktopId: string, target: VncTarget, ws: WebSocket, tcp: VncSocket | undefined): void {
    // Looked up afresh: the link seen before the awaits may have been forgotten meanwhile.
    const link = linkOf(desktopId);
    const connection: Connection = new Connection(ws, {
      desktopId,
      tcp,
      connect: () => connectVnc(target, options.connectTimeoutMs, desktopId),
      isHolding: () => link.gate.phase === 'holding',
      options,
      onFinished: () => {
        link.connections.delete(connection);
        if (links.get(desktopId) === link) forgetIfIdle(desktopId);
      },
    });
    link.connections.add(connection);
    // The desktop froze while we were connecting: this session is in the dump like the others.
    if (link.gate.phase === 'holding') connection.freeze(link.gate.frozenIn);
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, desktopId: string, owned: () => void): Promise<void> {
    if (closed) return refuseUpgrade(socket, 503, 'the server is shutting down');
    if (options.checkOrigin && !isSameOrigin(req)) return refuseUpgrade(socket, 403, 'cross-origin WebSocket refused');
    let found: VncTarget | RemoteTarget | undefined;
    try {
      found = await deps.lookup(desktopId);
    } catch (cause) {
      log(new BridgeError('lookup_failed', `desktop ${desktopId}: looking up its VNC port failed`, { desktopId }, { cause }));
      return refuseUpgrade(socket, 500, 'internal error');
    }
    if (socket.destroyed) return;
    if (found === undefined) return refuseUpgrade(socket, 404, `no running desktop ${desktopId}`);
    if (isRemote(found)) {
      // Its own host's bridge and freeze gate serve it; this one only copies bytes (relay.ts).
      relayUpgrade(req, socket, head, found.remote);
      owned();
      return;
    }
    const target = found;

    // Connect before upgrading, so an unreachable Xvnc is an HTTP error, not a WebSocket that closes at once.
    // Not while the desktop is frozen: see Connection.connectTcp.
    let tcp: VncSocket | undefined;
    if ((links.get(desktopId)?.gate.phase ?? 'open') === 'open') {
      try {
        tcp = await connectVnc(target, options.connectTimeoutMs, desktopId);
      } catch (error) {
        log(error as Error);
        return refuseUpgrade(socket, 502, `the VNC server of desktop ${desktopId} is not reachable`);
      }
      if (socket.destroyed || closed) {
        tcp.socket.destroy();
        if (!socket.destroyed) refuseUpgrade(socket, 503, 'the server is shutting down');
        return;
      }
    }
    let upgraded = false;
    // ws refuses a malformed handshake itself (and never calls back): the TCP connection must not outlive it.
    socket.once('close', () => {
      if (!upgraded) tcp?.socket.destroy();
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      owned();
      attach(desktopId, target, ws, tcp);
    });
  }

  return {
    handleUpgrade(req, socket, head, desktopId) {
      // Until ws owns the socket (it then listens for errors itself), a reset by the browser must not become an
      // unhandled 'error'.
      const ignore = () => {};
      socket.on('error', ignore);
      upgrade(req, socket, head, desktopId, () => socket.off('error', ignore)).catch((cause: unknown) => {
        log(new BridgeError('upgrade_failed', `desktop ${desktopId}: the upgrade failed`, { desktopId }, { cause }));
        refuseUpgrade(socket, 500, 'internal error');
      });
    },

    status(desktopId) {
      const link = links.get(desktopId);
      if (!link) return { gate: 'open', connections: 0, heldBytes: 0 };
      let connections = 0;
      let heldBytes = 0;
      for (const connection of link.connections) {
        if (connection.isOpen) connections++;
        heldBytes += connection.heldBytes;
      }
      return { gate: link.gate.phase, connections, heldBytes };
    },

    close() {
      if (closed) return;
      closed = true;
      deps.events.off('event', onEvent);
      deps.events.off('resumed', onEvent);
      stopHeartbeat();
      for (const link of links.values()) {
        for (const connection of [...link.connections]) connection.close(closeCodes.goingAway, closeReasons.goingAway);
      }
      wss.close();
    },
  };
}
