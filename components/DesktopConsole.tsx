'use client';
// The desktop page: the live screen, Checkpoint / Snapshot / Restore (buttons and Alt+C / Alt+S / Alt+R), the
// timeline of checkpoints (restore any, inspect, export, delete), and what criu did.
import { useEffect, useEffectEvent, useRef, useState } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { checkpointAction, cloneCheckpointAction, deleteCheckpointAction, pinCheckpointAction, restoreAction, stopDesktopAction } from '@/app/actions';
import { bytes, seconds } from '@/lib/format';
import { useDesktopEvents, type LiveEvent, type RemoteLink } from '@/lib/useDesktopEvents';
import type { ApiError, Result } from '@/lib/resultTypes';
import { CheckpointChart } from './CheckpointChart';
import { CheckpointTimeline } from './CheckpointTimeline';
import { ConfirmDialog } from './ConfirmDialog';
import { CriuDetails } from './CriuDetails';
import type { CheckpointView, DesktopDetail, DesktopView } from './desktopTypes';
import { ErrorPanel } from './ErrorPanel';
import { AudienceLink } from './presenter/AudienceLink';
import { StateBadge } from './StateBadge';
import { StateBanner } from './StateBanner';
import { RetentionForm } from './RetentionForm';
import { StorageFigure } from './StorageFigure';
import { VncViewer } from './VncViewer';
import { MoveForm, type MoveTarget } from './MoveForm';
import { mergeCheckpoint, newer } from './liveRecords';
import { ActionButton } from './ActionButton';

type Operation = 'checkpoint' | 'snapshot' | 'restore' | 'stop' | 'delete' | 'pin' | 'clone';
const failedTitle: Record<Operation | 'start' | 'dump', string> = {
  checkpoint: 'Checkpoint failed',
  snapshot: 'Snapshot failed',
  dump: 'Checkpoint failed',
  restore: 'Restore failed',
  stop: 'Stop failed',
  delete: 'Deleting the checkpoint failed',
  pin: 'Pinning the checkpoint failed',
  clone: 'Clone failed',
  start: 'Start failed',
};

/** audiencePath: the desktop's audience link (view only), shown with a Copy button. */
export function DesktopConsole({ initial, audiencePath, moveHosts = [] }: { initial: DesktopDetail; audiencePath?: string; moveHosts?: MoveTarget[] }) {
  const id = initial.desktop.id;
  const router = useRouter();
  const [detail, setDetail] = useState(initial);
  const [skewMs, setSkewMs] = useState(0);
  const [pending, setPending] = useState<Operation | null>(null);
  const [failure, setFailure] = useState<{ op: Operation; error: ApiError } | null>(null);
  /** The checkpoint waiting for "Stop the running desktop and restore this checkpoint?". */
  const [confirming, setConfirming] = useState<string | null>(null);
  const [freed, setFreed] = useState<{ checkpoint: string; bytesFreed: number } | null>(null);
  /** How restores bring the memory back: '' the installation's default (auto by image size), else as chosen. */
  const [memory, setMemory] = useState<'' | 'auto' | 'lazy' | 'eager'>('');
  const lazy = memory === '' ? undefined : memory === 'auto' ? 'auto' : memory === 'lazy';
  const reads = useRef(0);
  const { desktop, checkpoints } = detail;

  useEffect(() => setSkewMs(Date.parse(initial.serverTime) - Date.now()), [initial.serverTime]);

  /** Rereads the desktop with its checkpoints and log tail; only the latest read lands. */
  const reread = async () => {
    const read = ++reads.current;
    const response = await fetch(`/api/desktops/${id}`, { cache: 'no-store' }).catch(() => undefined);
    if (!response?.ok || read !== reads.current) return;
    const fresh = (await response.json()) as DesktopDetail;
    // Read from another host than before (the desktop moved): that host's record is the desktop now, whatever the
    // two hosts' clocks say of their updatedAt.
    setDetail((d) => ({ ...fresh, desktop: fresh.host !== d.host ? fresh.desktop : newer(fresh.desktop, d.desktop) }));
  };

  /** Where this desktop's events come from when another host runs it (relayed by this host), and if that is live. */
  const [remote, setRemote] = useState<RemoteLink>({ live: true });
  const live = useDesktopEvents({
    desktop: id,
    onEvent: (event: LiveEvent) => {
      if (event.desktop.id !== id) return;
      if (event.desktop.movedTo && event.desktop.state === 'stopped') {
        // This host's record of a desktop that moved away (the move's end, its checkpoint deleted here): the desktop
        // is its new owner's, read from there (this host relays its screen and forwards the buttons). Until that read
        // lands the page stays frozen, and the viewer reconnects once it reads running.
        void reread();
        return;
      }
      if (event.type === 'removed') {
        // Removed (from the dashboard, the API, the CLI): nothing left to read.
        setDetail((d) => ({ ...d, desktop: newer(event.desktop, d.desktop), checkpoints: [] }));
        setFailure({ op: 'stop', error: { code: 'not_found', message: `desktop ${id} was removed with its checkpoints` } });
        return;
      }
      // Checkpoints removed (the retention policy, a delete elsewhere) leave the timeline at once.
      const gone = new Set(event.removed ?? []);
      setDetail((d) => ({ ...d, desktop: newer(event.desktop, d.desktop), checkpoints: mergeCheckpoint(d.checkpoints, event.checkpoint).filter((c) => !gone.has(c.id)) }));
      if (event.type === 'checkpointing' || event.type === 'restoring') setFailure(null);
      if (event.type !== 'checkpointing' && event.type !== 'restoring') void reread();
    },
    onOpen: (serverTime) => {
      setSkewMs(Date.parse(serverTime) - Date.now());
      void reread();
    },
    onRemote: (link) => {
      setRemote(link);
      // Linked to the owner (again): what changed before, read from there.
      if (link.host && link.live) void reread();
    },
  });
  // Stale: the host that runs this desktop cannot be reached (what the page shows may be old until it is again).
  const stale = remote.host !== undefined && !remote.live && remote.host === detail.host;

  const latestComplete = checkpoints.findLast((c) => c.state === 'complete');
  const canCheckpoint = desktop.state === 'running' && !pending;
  const canRestore = ['checkpointed', 'stopped', 'failed'].includes(desktop.state) && !!latestComplete && !pending;
  /** Any checkpoint can be restored from the timeline; over a running desktop only once the user confirms. */
  const canRestoreAny = ['running', 'checkpointed', 'stopped', 'failed'].includes(desktop.state) && !pending;
  const frozenSince = checkpoints.find((c) => c.id === desktop.lastCheckpoint)?.createdAt;

  async function run<T extends object>(op: Operation, call: () => Promise<Result<T>>): Promise<Result<T> | undefined> {
    setPending(op);
    setFailure(null);
    try {
      const result = await call();
      if (!result.ok) setFailure({ op, error: result.error });
      return result;
    } catch (error) {
      // The action itself could not be reached (server gone, network): still say so on the page.
      setFailure({ op, error: { code: 'unreachable', message: (error as Error).message } });
      return undefined;
    } finally {
      setPending(null);
      void reread();
    }
  }

  /** A new desktop from the checkpoint, opened once it runs: its own viewer, its own checkpoints. */
  const clone = async (checkpointId: string) => {
    const result = await run('clone', () => cloneCheckpointAction(checkpointId, id));
    const made = result?.ok ? result.desktops[0] : undefined;
    if (made) router.push(`/desktops/${made.id}`);
  };
  const checkpoint = () => {
    if (canCheckpoint) void run('checkpoint', () => checkpointAction(id, { leaveRunning: false }));
  };
  /** criu dump --leave-running: a restorable checkpoint, and the desktop runs on. */
  const snapshot = () => {
    if (canCheckpoint) void run('snapshot', () => checkpointAction(id, { leaveRunning: true }));
  };
  const restore = () => {
    if (canRestore) void run('restore', () => restoreAction({ desktopId: id, checkpointId: latestComplete?.id, lazy }));
  };
  const restoreOne = (checkpointId: string, stopRunning = false) => {
    if (!canRestoreAny) return;
    if (desktop.state === 'running' && !stopRunning) {
      setConfirming(checkpointId);
      return;
    }
    void run('restore', () => restoreAction({ desktopId: id, checkpointId, stopRunning, lazy }));
  };
  const stop = () => {
    if (!pending && desktop.state !== 'stopped') void run('stop', () => stopDesktopAction(id));
  };

  const remove = async (checkpointId: string) => {
    if (pending) return;
    setFreed(null);
    const result = await run('delete', () => deleteCheckpointAction(checkpointId, id));
    if (result?.ok) setFreed({ checkpoint: result.checkpoint, bytesFreed: result.bytesFreed });
  };

  const pin = (checkpointId: string, pinned: boolean) => {
    if (!pending) void run('pin', () => pinCheckpointAction(checkpointId, pinned, id));
  };

  // Alt+C / Alt+S / Alt+R. Listening on window in the bubble phase: while the screen has focus, noVNC grabs the keys and
  // stops them there, so they reach the desktop (Alt+C in an xterm stays Alt+C). Click outside the screen first.
  const onShortcut = useEffectEvent((event: KeyboardEvent) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.repeat) return;
    const target = event.target as HTMLElement | null;
    if (target?.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"], canvas')) return;
    // event.code, not key: Alt+C types "ç" on some layouts.
    if (event.code === 'KeyC') {
      event.preventDefault();
      checkpoint();
    } else if (event.code === 'KeyS') {
      event.preventDefault();
      snapshot();
    } else if (event.code === 'KeyR') {
      event.preventDefault();
      restore();
    }
  });
  useEffect(() => {
    const listener = (event: KeyboardEvent) => onShortcut(event);
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);

  const shownError: { title: string; error: ApiError } | null = failure
    ? { title: failedTitle[failure.op], error: failure.error }
    : desktop.lastError && desktop.lastOperation?.ok === false
      ? { title: failedTitle[desktop.lastOperation.kind === 'dump' ? 'dump' : desktop.lastOperation.kind], error: desktop.lastError }
      : desktop.state === 'failed' && desktop.lastError
        ? { title: 'The desktop failed', error: desktop.lastError }
        : null;

  const overlay =
    desktop.state === 'checkpointed' ? (
      <div className="absolute inset-0 bg-ice-500/10 ring-2 ring-inset ring-ice-400/60">
        <span className="absolute bottom-10 left-1/2 -translate-x-1/2 whitespace-nowrap rounded-full bg-slate-950/85 px-3 py-1 text-xs font-medium text-ice-300 ring-1 ring-ice-400/40">
          Frozen · the desktop&apos;s processes are on disk
        </span>
      </div>
    ) : desktop.state === 'checkpointing' || desktop.state === 'restoring' ? (
      <div className="absolute inset-0 ring-2 ring-inset ring-amber-400/50" />
    ) : undefined;

  return (
    <div className="grid gap-6">
      <header className="flex flex-wrap items-center gap-x-4 gap-y-2">
        <Link href="/" className="text-sm text-slate-400 hover:text-slate-200">
          ← Desktops
        </Link>
        <h1 className="font-mono text-xl font-semibold text-slate-100">{id}</h1>
        <StateBadge state={desktop.state} />
        <span className="text-sm text-slate-400">
          display :{desktop.display} · {desktop.geometry} · {desktop.apps.join(', ')}
          {desktop.pid ? ` · pid ${desktop.pid}` : ''}
        </span>
        <span className="ml-auto flex items-center gap-3 text-xs text-slate-500">
          <Link
            href={`/desktops/${id}/present`}
            data-testid="presenter-link"
            className="rounded-md border border-white/10 px-3 py-1 text-sm text-slate-300 hover:border-sky-400/50 hover:text-sky-200"
          >
            Presenter mode
          </Link>
          <span
            data-testid="live-events"
            data-live={live && !stale}
            data-relayed-from={remote.host}
            title={remote.host ? `Server-Sent Events from /api/events, relayed from ${remote.host}` : 'Server-Sent Events from /api/events'}
            className="flex items-center gap-1.5"
          >
            <span className={`size-1.5 rounded-full ${live && !stale ? 'bg-emerald-400' : stale ? 'bg-amber-400' : 'bg-slate-600'}`} />
            {!live ? 'offline' : stale ? `stale: ${remote.host} unreachable` : remote.host ? `live from ${remote.host}` : 'live'}
          </span>
          <ActionButton
            type="button"
            onClick={stop}
            disabled={!!pending || desktop.state === 'stopped'}
            className="rounded-md border border-white/10 px-3 py-1 text-sm text-slate-300 hover:border-red-400/50 hover:text-red-200 disabled:opacity-40"
          >
            {pending === 'stop' ? 'Stopping…' : 'Stop desktop'}
          </ActionButton>
        </span>
      </header>

      <div className="grid gap-6 xl:grid-cols-[minmax(0,1fr)_24rem]">
        <div className="grid min-w-0 content-start gap-3">
          <StateBanner desktop={desktop} frozenSince={frozenSince} skewMs={skewMs} />
          <VncViewer desktopId={id} vncPassword={initial.vncPassword} desktopState={desktop.state} geometry={desktop.geometry} overlay={overlay} />
        </div>

        <aside className="grid min-w-0 content-start gap-5">
          <MoveForm desktopId={id} hosts={moveHosts} current={detail.host} running={desktop.state === 'running' && !pending} movedTo={desktop.movedTo} />
          <div className="grid grid-cols-3 gap-3 xl:grid-cols-2">
            <BigButton
              testId="checkpoint-button"
              onClick={checkpoint}
              disabled={!canCheckpoint}
              busy={pending === 'checkpoint' || (desktop.state === 'checkpointing' && pending !== 'snapshot')}
              shortcut="Alt+C"
              tone="ice"
              title="criu dump: the picture freezes and the desktop's processes are gone until a restore"
            >
              {desktop.state === 'checkpointing' && pending !== 'snapshot' ? 'Checkpointing…' : 'Checkpoint'}
            </BigButton>
            <BigButton
              testId="snapshot-button"
              onClick={snapshot}
              disabled={!canCheckpoint}
              busy={pending === 'snapshot'}
              shortcut="Alt+S"
              tone="violet"
              title="criu dump --leave-running: a checkpoint to come back to, and the desktop keeps running"
            >
              {pending === 'snapshot' ? 'Snapshotting…' : 'Snapshot'}
            </BigButton>
            <BigButton
              className="xl:col-span-2"
              testId="restore-button"
              onClick={restore}
              disabled={!canRestore}
              busy={pending === 'restore' || desktop.state === 'restoring'}
              shortcut="Alt+R"
              tone="emerald"
            >
              {desktop.state === 'restoring' ? 'Restoring…' : 'Restore'}
            </BigButton>
          </div>
          <label className="flex items-center gap-2 text-xs text-slate-400" title="criu restore --lazy-pages: the desktop resumes before its memory is read back; a criu lazy-pages daemon sends it on demand and in the background">
            Restore memory
            <select
              data-testid="restore-memory"
              value={memory}
              onChange={(e) => setMemory(e.target.value as typeof memory)}
              className="rounded-md border border-white/10 bg-slate-900 px-2 py-1 text-xs text-slate-200"
            >
              <option value="">default (lazy for big images)</option>
              <option value="auto">lazy for big images</option>
              <option value="lazy">lazy (sent after it resumes)</option>
              <option value="eager">all of it first</option>
            </select>
            {desktop.fetching && (
              <span role="status" data-testid="pages-arriving" className="text-sky-300">
                memory arriving…
              </span>
            )}
          </label>
          {/* Right under the buttons: where the eyes are after pressing one. */}
          {shownError && <ErrorPanel title={shownError.title} error={shownError.error} />}
          {freed && (
            <p role="status" data-testid="space-freed" data-bytes={freed.bytesFreed} className="rounded-md border border-emerald-400/30 bg-emerald-400/10 px-3 py-1.5 text-sm text-emerald-200">
              Deleted {freed.checkpoint}: {bytes(freed.bytesFreed)} freed
            </p>
          )}
          <p className="text-xs leading-relaxed text-slate-500">
            Restore brings back the newest checkpoint; any other from the timeline below. Shortcuts <Kbd>Alt+C</Kbd>{' '}
            checkpoint, <Kbd>Alt+S</Kbd> snapshot, <Kbd>Alt+R</Kbd> restore. They work while the desktop&apos;s screen is
            not focused: the screen takes every key once clicked, so click outside it first.
          </p>

          <Timings checkpoints={checkpoints} />
          <CheckpointChart checkpoints={checkpoints} />
          <StorageFigure storage={detail.storage} />
          <RetentionForm desktopId={id} policy={desktop.retention} />
          {audiencePath && <AudienceLink path={audiencePath} />}
        </aside>
      </div>

      <section className="grid gap-3">
        <h2 className="text-xs font-semibold uppercase tracking-wider text-slate-400">
          Timeline · {checkpoints.length} checkpoint{checkpoints.length === 1 ? '' : 's'}, newest first
        </h2>
        <CheckpointTimeline
          checkpoints={checkpoints}
          current={desktop.lastCheckpoint}
          onRestore={(checkpointId) => restoreOne(checkpointId)}
          onDelete={(checkpointId) => void remove(checkpointId)}
          onPin={pin}
          onClone={(checkpointId) => void clone(checkpointId)}
          restoreDisabled={!canRestoreAny}
          disabled={!!pending}
        />
      </section>

      <ConfirmDialog
        open={confirming !== null}
        title="Stop the running desktop and restore this checkpoint?"
        confirmLabel="Stop and restore"
        onCancel={() => setConfirming(null)}
        onConfirm={() => {
          const checkpointId = confirming;
          setConfirming(null);
          if (checkpointId) restoreOne(checkpointId, true);
        }}
      >
        The desktop as it is now is lost unless you take a checkpoint or snapshot of it first. Then{' '}
        <span className="font-mono">{confirming}</span> comes back in its place.
      </ConfirmDialog>

      <CriuDetails operation={desktop.lastOperation} log={detail.latestLog} />
    </div>
  );
}

function Timings({ checkpoints }: { checkpoints: CheckpointView[] }) {
  const lastDump = checkpoints.findLast((c) => c.dumpMs !== undefined);
  const lastRestore = checkpoints
    .flatMap((c) => c.restores.filter((r) => r.ok))
    .sort((a, b) => a.at.localeCompare(b.at))
    .at(-1);
  return (
    <dl data-testid="timings" className="grid grid-cols-3 gap-2 text-center">
      <Figure label="Last dump" value={seconds(lastDump?.dumpMs)} testId="last-dump" />
      <Figure label="Last restore" value={seconds(lastRestore?.ms)} testId="last-restore" />
      <Figure label="Images" value={bytes(lastDump?.imageBytes)} testId="last-images" />
    </dl>
  );
}

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div data-testid={testId} className="rounded-lg border border-white/10 bg-slate-900/60 px-2 py-2">
      <dt className="text-[11px] uppercase tracking-wider text-slate-500">{label}</dt>
      <dd className="mt-0.5 text-lg font-semibold tabular-nums text-slate-100">{value}</dd>
    </div>
  );
}

function Kbd({ children }: { children: React.ReactNode }) {
  return <kbd className="rounded border border-white/15 bg-slate-800 px-1.5 py-0.5 font-mono text-[11px] text-slate-300">{children}</kbd>;
}

interface BigButtonProps {
  testId: string;
  title?: string;
  className?: string;
  onClick: () => void;
  disabled: boolean;
  busy: boolean;
  shortcut: string;
  tone: 'ice' | 'emerald' | 'violet';
  children: React.ReactNode;
}

const toneColours: Record<BigButtonProps['tone'], string> = {
  ice: 'bg-sky-500 hover:bg-sky-400 text-slate-950 shadow-sky-500/30',
  violet: 'bg-violet-500 hover:bg-violet-400 text-white shadow-violet-500/30',
  emerald: 'bg-emerald-500 hover:bg-emerald-400 text-slate-950 shadow-emerald-500/30',
};

function BigButton({ testId, title, className = '', onClick, disabled, busy, shortcut, tone, children }: BigButtonProps) {
  const colours = toneColours[tone];
  return (
    <ActionButton
      type="button"
      data-testid={testId}
      onClick={onClick}
      disabled={disabled}
      aria-busy={busy}
      aria-keyshortcuts={shortcut}
      title={title}
      className={`${className} flex flex-col items-center justify-center gap-1 rounded-2xl px-6 py-5 text-2xl font-bold shadow-lg transition disabled:cursor-not-allowed disabled:bg-slate-800 disabled:text-slate-500 disabled:shadow-none aria-busy:animate-pulse ${colours}`}
    >
      {children}
      <span className="text-xs font-medium opacity-70">{shortcut}</span>
    </ActionButton>
  );
}
