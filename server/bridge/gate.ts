// The freeze gate: per desktop, whether viewer->server bytes may go to Xvnc or must be held, as a state machine.
//
// Why it exists (measured on these machines): while a desktop is frozen, CRIU's network lock DROPs the packets of
// its TCP connections. Bytes the bridge keeps sending into such a connection are retransmitted by the kernel with
// exponential back-off, so after a 30 s freeze the picture came back 24 s after the restore (95 s after a 120 s
// freeze): the next retransmission was simply not due yet. Holding the bytes from the moment the checkpoint starts
// and flushing them right after the restore brings the picture back in 14-34 ms, whatever the freeze length.
import type { DesktopEvent } from '../desktops/events';

export type GatePhase = 'open' | 'holding';

/** What a desktop event means to the gate. */
export type GateInput =
  /** 'checkpointing': criu dump is about to freeze the tree. */
  | 'freezeStarts'
  /** 'checkpointed' and the tree is gone: the freeze goes on until a restore. */
  | 'frozen'
  /** 'checkpointed' of a snapshot (leaveRunning), or 'failed' dump after which CRIU let the tree go on. */
  | 'treeResumed'
  /** 'failed' dump and the tree is dead: the connections' other ends are gone for good. */
  | 'treeLost'
  | 'restoring'
  | 'restored'
  /** 'failed' restore: the desktop is back where it was (frozen, stopped or failed). */
  | 'restoreFailed'
  | 'started'
  /** 'failed' start (or a failure that names no operation). */
  | 'startFailed'
  | 'stopped'
  /** 'moved': the desktop runs on another host now; its viewers must connect anew (relayed there). */
  | 'moved'
  /** 'changed', 'pruned': records and files only; the tree and its connections are untouched. */
  | 'records';

/** What the bridge must do to the desktop's connections on a transition. */
export type GateEffect =
  | 'none'
  /** Start holding viewer->server bytes. */
  | 'hold'
  /** Flush the held bytes to Xvnc, in order, and let bytes flow again. */
  | 'release'
  /** Close the viewers: 4001, their RFB sessions died with the tree. */
  | 'closeLost'
  /** Close the viewers: 4004, the desktop was stopped. */
  | 'closeStopped';

export function gateInput(event: DesktopEvent): GateInput {
  const running = event.desktop.state === 'running';
  switch (event.type) {
    case 'checkpointing':
      return 'freezeStarts';
    case 'checkpointed':
      return running ? 'treeResumed' : 'frozen';
    case 'restoring':
      return 'restoring';
    case 'restored':
      return 'restored';
    case 'started':
      return 'started';
    case 'stopping':
    case 'stopped':
    case 'removed':
      return 'stopped';
    case 'moved':
      return 'moved';
    case 'changed':
    case 'pruned':
      return 'records';
    case 'failed':
      if (event.operation === 'dump') return running ? 'treeResumed' : 'treeLost';
      if (event.operation === 'restore') return 'restoreFailed';
      return 'startFailed';
  }
}

interface Rule {
  to: GatePhase;
  effect: GateEffect;
}

/** The only transitions there are; an input a phase does not list is refused and changes nothing. */
export const gateTransitions: { readonly [P in GatePhase]: Readonly<Partial<Record<GateInput, Rule>>> } = {
  open: {
    records: { to: 'open', effect: 'none' },
    freezeStarts: { to: 'holding', effect: 'hold' },
    // A stopped or failed desktop being restored, or a new one: nobody is connected to a frozen session.
    started: { to: 'open', effect: 'none' },
    startFailed: { to: 'open', effect: 'none' },
    restoring: { to: 'open', effect: 'none' },
    restored: { to: 'open', effect: 'none' },
    restoreFailed: { to: 'open', effect: 'none' },
    stopped: { to: 'open', effect: 'closeStopped' },
    moved: { to: 'open', effect: 'closeLost' },
  },
  holding: {
    records: { to: 'holding', effect: 'none' },
    frozen: { to: 'holding', effect: 'none' },
    restoring: { to: 'holding', effect: 'none' },
    // Still frozen: another restore may follow.
    restoreFailed: { to: 'holding', effect: 'none' },
    restored: { to: 'open', effect: 'release' },
    treeResumed: { to: 'open', effect: 'release' },
    treeLost: { to: 'open', effect: 'closeLost' },
    stopped: { to: 'open', effect: 'closeStopped' },
    // The held bytes are dropped: the session they belong to goes on on another host, over a new connection (4001:
    // the viewer reconnects by itself, showing the freeze picture meanwhile).
    moved: { to: 'open', effect: 'closeLost' },
  },
};

export type GateStep =
  | {
      ok: true;
      input: GateInput;
      from: GatePhase;
      to: GatePhase;
      effect: GateEffect;
      /** The checkpoint whose dump started the hold (set while holding). */
      frozenIn?: string;
      /** 'restored': the checkpoint the desktop was restored from. */
      restoredFrom?: string;
    }
  | { ok: false; input: GateInput; from: GatePhase; reason: string };

export class Gate {
  private current: GatePhase = 'open';
  private checkpoint: string | undefined;

  get phase(): GatePhase {
    return this.current;
  }

  /** The checkpoint whose dump the gate is holding for. */
  get frozenIn(): string | undefined {
    return this.checkpoint;
  }

  apply(event: DesktopEvent): GateStep {
    const input = gateInput(event);
    const from = this.current;
    const rule = gateTransitions[from][input];
    if (!rule) {
      return { ok: false, input, from, reason: `a ${from} gate takes no "${input}" (desktop event "${event.type}")` };
    }
    const step: GateStep = {
      ok: true, input, from, to: rule.to, effect: rule.effect, frozenIn: this.checkpoint,
      restoredFrom: input === 'restored' ? event.checkpoint?.id : undefined,
    };
    if (rule.effect === 'hold') this.checkpoint = event.checkpoint?.id;
    if (rule.to === 'open') this.checkpoint = undefined;
    this.current = rule.to;
    return step;
  }
}
