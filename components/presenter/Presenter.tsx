'use client';
// Presenter mode: the desktop over the whole window, one big state banner with the freeze timer, shortcuts (C, S,
// R, A, F, ?, Esc), the auto-cycle, and the step panel that shows each criu command as it runs.
import { useEffect, useEffectEvent, useRef, useState } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { checkpointAction, restoreAction } from '@/app/actions';
import { useDesktopEvents } from '@/lib/useDesktopEvents';
import type { ApiError, Result } from '@/lib/resultTypes';
import type { CheckpointView, DesktopDetail, DesktopView } from '../desktopTypes';
import { VncViewer } from '../VncViewer';
import { mergeCheckpoint, newer } from '../liveRecords';
import { AudienceLink } from './AudienceLink';
import { AutoCyclePanel } from './AutoCyclePanel';
import { BigBanner } from './BigBanner';
import { FrozenPicture } from './FrozenPicture';
import { HelpOverlay } from './HelpOverlay';
import { StepPanel } from './StepPanel';
import { parseCycleInputs, type CycleInputs } from './autoCycle';
import { noteOperation, type OperationStep } from './steps';
import { useAutoCycle, type CycleOperation } from './useAutoCycle';
import { ActionButton } from '../ActionButton';

type Operation = 'checkpoint' | 'snapshot' | 'restore';

/** Keys typed into a field or into the desktop's screen are theirs, never shortcuts. */
function keyIsTaken(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  return !!target?.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"], canvas, [data-testid="vnc-screen"]');
}

export function Presenter({ initial, audiencePath }: { initial: DesktopDetail; audiencePath: string }) {
  const id = initial.desktop.id;
  const router = useRouter();
  const [detail, setDetail] = useState(initial);
  const [skewMs, setSkewMs] = useState(0);
  const [pending, setPending] = useState<Operation | null>(null);
  const [failure, setFailure] = useState<{ op: Operation; error: ApiError } | null>(null);
  const [steps, setSteps] = useState<OperationStep[]>(() => noteOperation([], initial.desktop));
  const [help, setHelp] = useState(false);
  const [cycleInputs, setCycleInputs] = useState<CycleInputs>({ freeze: '3', run: '3', times: '0' });
  /** Whether the desktop's screen has the keyboard focus (keys go to the desktop, shortcuts are off). */
  const [keysToDesktop, setKeysToDesktop] = useState(false);
  const reads = useRef(0);
  const { desktop, checkpoints } = detail;

  useEffect(() => setSkewMs(Date.parse(initial.serverTime) - Date.now()), [initial.serverTime]);

  /** Every record of the desktop goes through here: the page's state and the step list follow it. */
  const see = (record: DesktopView, checkpoint?: CheckpointView) => {
    setDetail((d) => ({ ...d, desktop: newer(record, d.desktop), checkpoints: mergeCheckpoint(d.checkpoints, checkpoint) }));
    setSteps((s) => noteOperation(s, record));
  };

  const reread = async () => {
    const read = ++reads.current;
    const response = await fetch(`/api/desktops/${id}`, { cache: 'no-store' }).catch(() => undefined);
    if (!response?.ok || read !== reads.current) return;
    const fresh = (await response.json()) as DesktopDetail;
    setDetail((d) => ({ ...fresh, desktop: newer(fresh.desktop, d.desktop) }));
    setSteps((s) => noteOperation(s, fresh.desktop));
  };

  const live = useDesktopEvents({
    desktop: id,
    onEvent: (event) => {
      if (event.desktop.id !== id) return;
      see(event.desktop, event.checkpoint);
      if (event.type === 'checkpointing' || event.type === 'restoring') setFailure(null);
      else void reread();
    },
    onOpen: (serverTime) => {
      setSkewMs(Date.parse(serverTime) - Date.now());
      void reread();
    },
    // A desktop on another host: its events relayed from there; once (re)linked, what was missed meanwhile.
    onRemote: (link) => {
      if (link.host && link.live) void reread();
    },
  });

  /** Runs an action, for a key, a button or the auto-cycle alike; says whether it worked. */
  async function run(op: Operation, call: () => Promise<Result<{ desktop: DesktopView; checkpoint: CheckpointView }>>) {
    setPending(op);
    setFailure(null);
    try {
      const result = await call();
      if (result.ok) {
        see(result.desktop, result.checkpoint);
        return { ok: true as const };
      }
      setFailure({ op, error: result.error });
      return { ok: false as const, error: result.error.message };
    } catch (error) {
      // The action itself could not be reached (server gone, network): still say so.
      const message = (error as Error).message;
      setFailure({ op, error: { code: 'unreachable', message } });
      return { ok: false as const, error: message };
    } finally {
      setPending(null);
      void reread();
    }
  }

  const doCheckpoint: CycleOperation = () => run('checkpoint', () => checkpointAction(id, { leaveRunning: false }));
  // The newest complete checkpoint, as the server knows it (not as this page last saw it).
  const doRestore: CycleOperation = () => run('restore', () => restoreAction({ desktopId: id }));
  const cycle = useAutoCycle({ checkpoint: doCheckpoint, restore: doRestore });

  const hasCheckpoint = checkpoints.some((c) => c.state === 'complete');
  const canCheckpoint = desktop.state === 'running' && !pending && !cycle.active;
  const canRestore = ['checkpointed', 'stopped', 'failed'].includes(desktop.state) && hasCheckpoint && !pending && !cycle.active;
  const frozenSince = checkpoints.find((c) => c.id === desktop.lastCheckpoint)?.createdAt;

  const checkpoint = () => canCheckpoint && void doCheckpoint();
  const snapshot = () => canCheckpoint && void run('snapshot', () => checkpointAction(id, { leaveRunning: true }));
  const restore = () => canRestore && void doRestore();
  const toggleCycle = () => {
    const settings = parseCycleInputs(cycleInputs);
    if (cycle.active) cycle.stop();
    else if (desktop.state === 'running' && !pending && settings) cycle.start(settings);
  };
  const toggleFullscreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void document.documentElement.requestFullscreen().catch(() => {});
  };

  // Listening on window in the bubble phase: while the screen has focus, noVNC takes the keys and stops them there,
  // so they reach the desktop (C in an xterm types a c). Click outside the screen and the shortcuts are back.
  const onKey = useEffectEvent((event: KeyboardEvent) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || keyIsTaken(event)) return;
    if (event.key === '?') {
      event.preventDefault();
      setHelp((h) => !h);
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      // One step back at a time: the help, then a running auto-cycle (it restores a frozen desktop), then the page.
      if (help) setHelp(false);
      else if (cycle.active) cycle.stop();
      else router.push(`/desktops/${id}`);
      return;
    }
    if (event.shiftKey) return;
    const actions: Record<string, () => unknown> = { KeyC: checkpoint, KeyS: snapshot, KeyR: restore, KeyA: toggleCycle, KeyF: toggleFullscreen };
    const action = actions[event.code];
    if (!action) return;
    event.preventDefault();
    action();
  });
  useEffect(() => {
    const listener = (event: KeyboardEvent) => onKey(event);
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);

  const overlay =
    desktop.state === 'checkpointed' ? (
      <div className="absolute inset-0 bg-sky-500/10 ring-4 ring-inset ring-sky-400/70" />
    ) : desktop.state === 'checkpointing' || desktop.state === 'restoring' ? (
      <div className="absolute inset-0 ring-4 ring-inset ring-amber-400/60" />
    ) : undefined;

  return (
    <div data-testid="presenter" className="fixed inset-0 z-50 flex flex-col bg-slate-950 text-slate-100">
      <BigBanner state={desktop.state} frozenSince={frozenSince} skewMs={skewMs} lastOperation={desktop.lastOperation} failure={desktop.lastError?.message} />
      <div className="flex min-h-0 flex-1">
        <div
          className="relative min-w-0 flex-1"
          onFocus={() => setKeysToDesktop(true)}
          onBlur={(e) => {
            if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setKeysToDesktop(false);
          }}
        >
          <VncViewer
            desktopId={id}
            vncPassword={initial.vncPassword}
            desktopState={desktop.state}
            geometry={desktop.geometry}
            overlay={overlay}
            fill
            toolbar={false}
            placeholder={desktop.state === 'checkpointed' && desktop.lastCheckpoint ? <FrozenPicture desktopId={id} checkpoint={desktop.lastCheckpoint} /> : undefined}
          />
          <span
            data-testid="keyboard-owner"
            data-owner={keysToDesktop ? 'desktop' : 'page'}
            className={`pointer-events-none absolute left-3 top-3 rounded-full px-3 py-1 text-xs ring-1 ${keysToDesktop ? 'bg-amber-400/90 text-slate-950 ring-amber-300' : 'bg-slate-900/80 text-slate-400 ring-white/10'}`}
          >
            {keysToDesktop ? 'Keys go to the desktop · click outside the screen for shortcuts' : 'Shortcuts on · ? for help'}
          </span>
        </div>

        <aside className="flex w-[27rem] shrink-0 flex-col gap-4 border-l border-white/10 bg-slate-950 p-4">
          <header className="flex items-center gap-3">
            <Link href={`/desktops/${id}`} className="text-sm text-slate-400 hover:text-slate-100" title="Esc">
              ← Leave
            </Link>
            <h1 className="font-mono text-base font-semibold">{id}</h1>
            <span className="ml-auto flex items-center gap-1.5 text-xs text-slate-500" title="Server-Sent Events">
              <span className={`size-1.5 rounded-full ${live ? 'bg-emerald-400' : 'bg-slate-600'}`} />
              {live ? 'live' : 'offline'}
            </span>
            <ActionButton type="button" onClick={() => setHelp((h) => !h)} className="rounded-md border border-white/10 px-2 py-0.5 text-sm text-slate-300 hover:bg-slate-800" aria-label="Keyboard shortcuts">
              ?
            </ActionButton>
          </header>

          <div className="grid grid-cols-3 gap-2">
            <KeyButton testId="present-checkpoint" keyName="C" onClick={checkpoint} disabled={!canCheckpoint} busy={pending === 'checkpoint'} tone="bg-sky-500 text-slate-950 hover:bg-sky-400">
              Checkpoint
            </KeyButton>
            <KeyButton testId="present-snapshot" keyName="S" onClick={snapshot} disabled={!canCheckpoint} busy={pending === 'snapshot'} tone="bg-violet-500 text-white hover:bg-violet-400">
              Snapshot
            </KeyButton>
            <KeyButton testId="present-restore" keyName="R" onClick={restore} disabled={!canRestore} busy={pending === 'restore'} tone="bg-emerald-500 text-slate-950 hover:bg-emerald-400">
              Restore
            </KeyButton>
          </div>
          {failure && !cycle.active && (
            <p role="alert" data-testid="present-error" className="rounded-md border border-red-500/40 bg-red-500/10 px-3 py-2 text-sm text-red-200">
              {failure.op} failed: {failure.error.message}
            </p>
          )}

          <AutoCyclePanel state={cycle.state} inputs={cycleInputs} onInputs={setCycleInputs} onStart={toggleCycle} onStop={cycle.stop} startDisabled={desktop.state !== 'running' || !!pending} />
          <AudienceLink path={audiencePath} compact />
          {/* The steps take what is left of the height, and scroll. */}
          <div className="-mr-2 min-h-0 flex-1 overflow-y-auto pr-2">
            <StepPanel steps={steps} skewMs={skewMs} />
          </div>
        </aside>
      </div>
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
    </div>
  );
}

interface KeyButtonProps {
  testId: string;
  keyName: string;
  onClick: () => void;
  disabled: boolean;
  busy: boolean;
  tone: string;
  children: React.ReactNode;
}

function KeyButton({ testId, keyName, onClick, disabled, busy, tone, children }: KeyButtonProps) {
  return (
    <ActionButton
      type="button"
      data-testid={testId}
      onClick={onClick}
      disabled={disabled}
      aria-busy={busy}
      aria-keyshortcuts={keyName}
      className={`flex flex-col items-center rounded-xl px-2 py-2.5 text-sm font-bold transition disabled:cursor-not-allowed disabled:bg-slate-800 disabled:text-slate-500 aria-busy:animate-pulse ${tone}`}
    >
      {children}
      <kbd className="text-[11px] font-medium opacity-70">{keyName}</kbd>
    </ActionButton>
  );
}
