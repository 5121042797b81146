'use client';
// The desktop's screen through noVNC, over the bridge's WebSocket; reconnects by itself when the VNC link is lost.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type RFB from '@novnc/novnc';
import type { DesktopState } from '@/lib/states';
import { clock } from '@/lib/format';

/**
 * connecting/connected: as it says. reconnecting: the bridge lost the VNC connection (4001) and a new one is on
 * its way. waiting: closed while the desktop is not running; the viewer connects when it runs again.
 * stopped: the desktop was stopped (4004).
 */
export type ViewerPhase = 'connecting' | 'connected' | 'reconnecting' | 'waiting' | 'stopped';

export interface ViewerCounters {
  /** WebSockets this viewer opened: one for a whole checkpoint/restore cycle, unless the link was lost. */
  websockets: number;
  connects: number;
  /** noVNC 'disconnect' events. */
  disconnects: number;
  lastClose?: { code: number; reason: string };
}

declare global {
  interface Window {
    /** For tests and the curious: what the viewer on this page did. */
    __freezeframe?: ViewerCounters;
  }
}

/** The bridge's close codes (server/bridge). */
const closeCodes = { vncLost: 4001, desktopStopped: 4004 } as const;
const backoffMs = [250, 500, 1_000, 2_000, 5_000];

interface Props {
  desktopId: string;
  /** The desktop's VNC password (noVNC answers Xvnc's challenge with it). */
  vncPassword: string;
  desktopState: DesktopState;
  /** "1024x768": the screen keeps the desktop's shape while it scales to fit. */
  geometry: string;
  /** Shown over the screen (e.g. while frozen); does not touch the canvas. */
  overlay?: ReactNode;
  /** Always view only, no toggle (the audience page; its password is the view-only one anyway). */
  viewOnly?: boolean;
  /** Fill the parent's height (presenter and audience pages) instead of keeping the screen's shape in the flow. */
  fill?: boolean;
  /** The row of tools over the screen (view only, clipboard, …); the full-window pages leave it out. */
  toolbar?: boolean;
  /** Shown instead of "Not running" while there has been no picture yet (a page opened on a frozen desktop). */
  placeholder?: ReactNode;
}

export function VncViewer({
  desktopId,
  vncPassword,
  desktopState,
  geometry,
  overlay,
  viewOnly: lockedViewOnly = false,
  fill = false,
  toolbar = true,
  placeholder,
}: Props) {
  const frameRef = useRef<HTMLDivElement>(null);
  const targetRef = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  /** The last picture of a lost connection, under the screen until the next connection has drawn one. */
  const stillRef = useRef<HTMLCanvasElement>(null);
  const [still, setStill] = useState(false);
  const stillShownRef = useRef(false);
  useEffect(() => {
    stillShownRef.current = still;
  }, [still]);
  const stateRef = useRef(desktopState);
  const failuresRef = useRef(0);
  const viewOnlyRef = useRef(lockedViewOnly);
  /** A 4004 came while the desktop still read running: wait for another state before connecting again. */
  const stopHeardRef = useRef(false);
  const [generation, setGeneration] = useState(0);
  const [phase, setPhase] = useState<ViewerPhase>(desktopState === 'running' ? 'connecting' : 'waiting');
  const [counters, setCounters] = useState<ViewerCounters>({ websockets: 0, connects: 0, disconnects: 0 });
  const [notice, setNotice] = useState<string | null>(null);
  const [viewOnly, setViewOnly] = useState(lockedViewOnly);
  const [fullscreen, setFullscreen] = useState(false);
  const [clipboardOpen, setClipboardOpen] = useState(false);
  const [clipboardText, setClipboardText] = useState('');
  const [remoteClipboard, setRemoteClipboard] = useState<string | null>(null);
  const [width, height] = geometry.split('x').map(Number);

  useEffect(() => {
    window.__freezeframe = counters;
  }, [counters]);

  // Connect (again) when the desktop runs and the viewer is not connected: on open, or after a stop or failure.
  useEffect(() => {
    stateRef.current = desktopState;
    // A 4004 can arrive before the page has heard of the stop (the close and the 'stopping' event race): a desktop
    // that still reads running then is the one going away, not one that runs again.
    if (desktopState !== 'running') stopHeardRef.current = false;
    if (desktopState === 'running' && (phase === 'waiting' || (phase === 'stopped' && !stopHeardRef.current))) {
      setPhase('connecting');
      setGeneration((g) => g + 1);
    }
  }, [desktopState, phase]);

  useEffect(() => {
    if (stateRef.current !== 'running') {
      // A retry that fell due while the desktop stopped or is being restored (Stop and restore kills Xvnc first: the
      // link is lost while the desktop still looks running): wait, and the effect above connects when it runs.
      setPhase((p) => (p === 'reconnecting' ? 'waiting' : p));
      return;
    }
    let cancelled = false;
    let rfb: RFB | null = null;
    // noVNC complains when a finished session is disconnected again (cleanup after a lost connection).
    let finished = false;
    let retry: ReturnType<typeof setTimeout> | undefined;

    (async () => {
      // noVNC 1.7 awaits a browser probe at the top of a module, reading `window`: it can only load in the browser.
      const { default: RFBClass } = await import('@novnc/novnc');
      const target = targetRef.current;
      if (cancelled || !target) return;
      const url = new URL(`/api/desktops/${desktopId}/vnc`, window.location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      // Our own WebSocket, handed to noVNC: its close code says why (4001, 4004), which noVNC's events do not.
      const socket = new WebSocket(url);
      setCounters((c) => ({ ...c, websockets: c.websockets + 1 }));
      // noVNC takes its canvas away when the connection closes (RFB._disconnect): the picture is copied first (this
      // listener runs before noVNC's onclose) and stays until the next connection draws, so a desktop that moved to
      // another host, or is restored with its connections closed, shows its frozen frame, not a black box.
      socket.addEventListener('close', ({ code }) => {
        const live = target.querySelector('canvas');
        const copy = stillRef.current;
        if (cancelled || code === closeCodes.desktopStopped || !live?.width || !live.height || !copy) return;
        copy.width = live.width;
        copy.height = live.height;
        copy.getContext('2d')?.drawImage(live, 0, 0);
        setStill(true);
      });
      // Each desktop's Xvnc asks for its own password; only the server and this (authenticated) page know it.
      rfb = new RFBClass(target, socket, { shared: true, credentials: { password: vncPassword } });
      rfbRef.current = rfb;
      rfb.scaleViewport = true;
      rfb.resizeSession = false;
      rfb.viewOnly = viewOnlyRef.current;
      rfb.background = 'transparent';

      rfb.addEventListener('connect', () => {
        setCounters((c) => ({ ...c, connects: c.connects + 1 }));
        // The frozen frame goes once the new canvas has pixels (its first update; before it, it is transparent): one
        // pixel read a frame, only while a frozen frame is shown.
        const drawn = () => {
          if (!stillShownRef.current) return;
          if (cancelled) return;
          const canvas = target.querySelector('canvas');
          const ctx = canvas?.width ? canvas.getContext('2d') : null;
          if (ctx && ctx.getImageData(canvas!.width >> 1, canvas!.height >> 1, 1, 1).data[3] !== 0) setStill(false);
          else requestAnimationFrame(drawn);
        };
        requestAnimationFrame(drawn);
        if (failuresRef.current > 0) {
          setNotice(`Reconnected at ${clock(new Date().toISOString())} after the VNC connection was lost.`);
        }
        failuresRef.current = 0;
        setPhase('connected');
      });
      rfb.addEventListener('disconnect', () => {
        finished = true;
        setCounters((c) => ({ ...c, disconnects: c.disconnects + 1 }));
      });
      rfb.addEventListener('clipboard', (event) => {
        setRemoteClipboard((event as CustomEvent<{ text: string }>).detail.text);
      });

      socket.addEventListener('close', ({ code, reason }) => {
        if (cancelled) return;
        rfbRef.current = null;
        setCounters((c) => ({ ...c, lastClose: { code, reason } }));
        if (code === closeCodes.desktopStopped) {
          setStill(false);
          stopHeardRef.current = stateRef.current === 'running';
          setPhase('stopped');
          setNotice('The desktop was stopped; the viewer connects again when it runs.');
          return;
        }
        const attempt = failuresRef.current++;
        const why = code === closeCodes.vncLost ? 'The VNC connection was lost' : `The connection closed (code ${code})`;
        // Only a running desktop is worth a new connection; one being restored (restored from another checkpoint
        // than it froze at, its viewers' connections come back closed) or frozen gets one when it runs.
        if (stateRef.current !== 'running') {
          setPhase('waiting');
          setNotice(`${why}; the viewer reconnects when the desktop runs.`);
          return;
        }
        setPhase('reconnecting');
        setNotice(`${why}; reconnecting (attempt ${attempt + 1})…`);
        retry = setTimeout(() => setGeneration((g) => g + 1), backoffMs[Math.min(attempt, backoffMs.length - 1)]);
      });
    })().catch((error: unknown) => {
      console.error('VNC viewer', error);
      setNotice(`The viewer could not start: ${(error as Error).message}`);
    });

    return () => {
      cancelled = true;
      clearTimeout(retry);
      rfbRef.current = null;
      if (!finished) rfb?.disconnect();
    };
  }, [desktopId, vncPassword, generation]);

  // The reconnected notice stays a while, long enough to be read on stage, then goes.
  useEffect(() => {
    if (phase !== 'connected' || !notice) return;
    const timer = setTimeout(() => setNotice(null), 12_000);
    return () => clearTimeout(timer);
  }, [phase, notice]);

  useEffect(() => {
    const onChange = () => setFullscreen(document.fullscreenElement === frameRef.current);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, []);

  const toggleViewOnly = () => {
    viewOnlyRef.current = !viewOnly;
    setViewOnly(!viewOnly);
    if (rfbRef.current) rfbRef.current.viewOnly = !viewOnly;
  };
  const toggleFullscreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void frameRef.current?.requestFullscreen();
  };
  const sendClipboard = () => {
    rfbRef.current?.clipboardPasteFrom(clipboardText);
    rfbRef.current?.focus();
  };
  const connected = phase === 'connected';

  return (
    <section
      data-testid="vnc-viewer"
      data-phase={phase}
      data-websockets={counters.websockets}
      data-connects={counters.connects}
      data-disconnects={counters.disconnects}
      data-last-close={counters.lastClose?.code ?? ''}
      data-view-only={viewOnly}
      className={fill ? 'flex h-full min-h-0 flex-col gap-2' : 'flex flex-col gap-2'}
    >
      {toolbar && (
        <div className="flex flex-wrap items-center gap-2 text-sm">
          <PhasePill phase={phase} />
          <div className="ml-auto flex flex-wrap gap-2">
            {!lockedViewOnly && (
              <ToolButton onClick={toggleViewOnly} pressed={viewOnly} title="Mouse and keyboard are not sent to the desktop">
                View only
              </ToolButton>
            )}
            <ToolButton onClick={() => setClipboardOpen((o) => !o)} pressed={clipboardOpen}>
              Clipboard
            </ToolButton>
            <ToolButton onClick={() => rfbRef.current?.sendCtrlAltDel()} disabled={!connected || viewOnly}>
              Ctrl-Alt-Del
            </ToolButton>
            <ToolButton onClick={toggleFullscreen}>{fullscreen ? 'Exit full screen' : 'Full screen'}</ToolButton>
          </div>
        </div>
      )}

      {notice && (
        <p role="status" data-testid="viewer-notice" className="rounded-md border border-amber-400/30 bg-amber-400/10 px-3 py-1.5 text-sm text-amber-200">
          {notice}
        </p>
      )}

      {clipboardOpen && (
        <div className="flex flex-col gap-2 rounded-lg border border-white/10 bg-slate-900/60 p-3 text-sm sm:flex-row">
          <textarea
            value={clipboardText}
            onChange={(e) => setClipboardText(e.target.value)}
            rows={2}
            placeholder="Text to put on the desktop's clipboard"
            aria-label="Text to send to the desktop's clipboard"
            className="min-h-12 flex-1 resize-y rounded-md border border-white/10 bg-slate-950 px-2 py-1 font-mono text-slate-100 outline-none focus:border-ice-400"
          />
          <div className="flex flex-col gap-1 sm:w-64">
            <ToolButton onClick={sendClipboard} disabled={!connected || viewOnly || !clipboardText}>
              Send to desktop
            </ToolButton>
            <p className="truncate text-xs text-slate-400" title={remoteClipboard ?? undefined}>
              {remoteClipboard === null ? 'Nothing copied on the desktop yet.' : `Desktop clipboard: ${remoteClipboard}`}
            </p>
          </div>
        </div>
      )}

      <div
        ref={frameRef}
        className={
          fill
            ? 'relative min-h-0 flex-1 overflow-hidden bg-black'
            : 'relative overflow-hidden rounded-xl border border-white/10 bg-black/60 shadow-2xl shadow-black/40 [&:fullscreen]:rounded-none [&:fullscreen]:border-0'
        }
      >
        <canvas
          ref={stillRef}
          data-testid="vnc-still"
          data-shown={still}
          className={`pointer-events-none absolute inset-0 size-full object-contain ${still ? '' : 'invisible'}`}
        />
        <div
          ref={targetRef}
          data-testid="vnc-screen"
          className={fill ? 'vnc-target relative h-full w-full' : 'vnc-target relative w-full max-h-[72vh]'}
          style={fill ? undefined : fullscreen ? { height: '100vh', maxHeight: 'none' } : { aspectRatio: `${width} / ${height}` }}
        />
        {overlay && <div className="pointer-events-none absolute inset-0">{overlay}</div>}
        {!connected && phase !== 'reconnecting' && !still && (
          <div className="absolute inset-0 grid place-items-center text-sm text-slate-400">
            {phase === 'connecting' ? 'Connecting…' : phase === 'stopped' ? 'Desktop stopped' : counters.connects ? null : (placeholder ?? 'Not running')}
          </div>
        )}
      </div>
    </section>
  );
}

function PhasePill({ phase }: { phase: ViewerPhase }) {
  const look: Record<ViewerPhase, [string, string]> = {
    connecting: ['bg-slate-400 animate-pulse', 'Connecting'],
    connected: ['bg-emerald-400', 'VNC connected'],
    reconnecting: ['bg-amber-400 animate-pulse', 'Reconnecting'],
    waiting: ['bg-slate-500', 'Not connected'],
    stopped: ['bg-slate-500', 'Desktop stopped'],
  };
  const [dot, label] = look[phase];
  return (
    <span className="inline-flex items-center gap-2 rounded-full border border-white/10 bg-slate-900 px-3 py-1 text-slate-300">
      <span className={`size-2 rounded-full ${dot}`} />
      {label}
    </span>
  );
}

function ToolButton({ children, pressed, ...props }: React.ButtonHTMLAttributes<HTMLButtonElement> & { pressed?: boolean }) {
  return (
    <button
      type="button"
      aria-pressed={pressed}
      {...props}
      className="rounded-md border border-white/10 bg-slate-800/80 px-3 py-1 text-slate-200 transition hover:bg-slate-700 disabled:cursor-not-allowed disabled:opacity-40 aria-pressed:border-ice-400/60 aria-pressed:bg-ice-500/20 aria-pressed:text-ice-300"
    >
      {children}
    </button>
  );
}
