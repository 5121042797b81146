'use client';
// The presenter's keyboard shortcuts, over the page (? opens and closes it, Esc closes it).
export const shortcuts: [string, string][] = [
  ['C', 'Checkpoint (criu dump): the picture freezes'],
  ['S', 'Snapshot (criu dump --leave-running)'],
  ['R', 'Restore the newest checkpoint'],
  ['A', 'Start / stop the auto-cycle'],
  ['F', 'Browser full screen'],
  ['?', 'This help'],
  ['Esc', 'Close the help; stop the auto-cycle; leave presenter mode'],
];

export function HelpOverlay({ onClose }: { onClose: () => void }) {
  return (
    <div className="absolute inset-0 z-20 grid place-items-center bg-slate-950/80" onClick={onClose}>
      <div
        role="dialog"
        aria-label="Keyboard shortcuts"
        data-testid="help-overlay"
        onClick={(e) => e.stopPropagation()}
        className="grid gap-4 rounded-2xl border border-white/10 bg-slate-900 p-6 shadow-2xl"
      >
        <h2 className="text-lg font-semibold text-slate-100">Keyboard shortcuts</h2>
        <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-2 text-sm">
          {shortcuts.map(([key, what]) => (
            <div key={key} className="contents">
              <dt>
                <kbd className="rounded border border-white/20 bg-slate-800 px-2 py-0.5 font-mono text-slate-100">{key}</kbd>
              </dt>
              <dd className="text-slate-300">{what}</dd>
            </div>
          ))}
        </dl>
        <p className="max-w-md text-xs leading-relaxed text-slate-400">
          Once the desktop&apos;s screen has been clicked it takes every key (they go to the desktop, Esc too): click
          anywhere outside the screen and the shortcuts work again.
        </p>
      </div>
    </div>
  );
}
