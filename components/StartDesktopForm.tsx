'use client';
// Starts a desktop: its size (within the engine's bounds) and its apps, from the presets; in a fleet, on which host
// (by default the one with the most free memory).
import { useActionState } from 'react';
import { startDesktopAction, type StartFormState } from '@/app/actions';
import { appPresets, defaultApps, geometryLimits } from '@/lib/presets';

const sizes = ['800x600', '1024x768', '1280x800', '1600x900'];

export function StartDesktopForm({ hosts }: { hosts?: string[] }) {
  const [state, action, pending] = useActionState<StartFormState, FormData>(startDesktopAction, undefined);
  const { minWidth, maxWidth, minHeight, maxHeight } = geometryLimits;
  const error = state?.error;
  return (
    <form action={action} className="grid gap-4 rounded-xl border border-white/10 bg-slate-900/50 p-5">
      <h2 className="text-lg font-semibold">Start a desktop</h2>
      <fieldset className="grid gap-2">
        <legend className="mb-1 text-xs font-semibold uppercase tracking-wider text-slate-400">Screen size</legend>
        <div className="flex items-center gap-2">
          <input
            name="width"
            type="number"
            required
            min={minWidth}
            max={maxWidth}
            defaultValue={1024}
            aria-label="Width in pixels"
            className="w-24 rounded-md border border-white/10 bg-slate-950 px-2 py-1.5 tabular-nums outline-none focus:border-sky-400"
          />
          <span className="text-slate-500">×</span>
          <input
            name="height"
            type="number"
            required
            min={minHeight}
            max={maxHeight}
            defaultValue={768}
            aria-label="Height in pixels"
            className="w-24 rounded-md border border-white/10 bg-slate-950 px-2 py-1.5 tabular-nums outline-none focus:border-sky-400"
          />
        </div>
        <p className="text-xs text-slate-500">
          {minWidth}×{minHeight} to {maxWidth}×{maxHeight}; common: {sizes.join(', ')}
        </p>
      </fieldset>
      <fieldset className="grid gap-2">
        <legend className="mb-1 text-xs font-semibold uppercase tracking-wider text-slate-400">Apps</legend>
        {Object.values(appPresets).map((app) => (
          <label key={app.name} className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="apps" value={app.name} defaultChecked={defaultApps.includes(app.name)} className="accent-sky-400" />
            {app.label}
          </label>
        ))}
        <label className="mt-1 grid gap-1 text-sm">
          <span className="text-slate-400">Or a command of your own (split at spaces, no shell)</span>
          <input
            name="command"
            type="text"
            maxLength={2048}
            placeholder="xeyes -geometry 200x150"
            aria-label="Custom command"
            className="rounded-md border border-white/10 bg-slate-950 px-2 py-1.5 font-mono text-xs outline-none focus:border-sky-400"
          />
        </label>
      </fieldset>
      {hosts && hosts.length > 0 && (
        <label className="grid gap-1 text-sm">
          <span className="text-xs font-semibold uppercase tracking-wider text-slate-400">Host</span>
          <select name="host" defaultValue="" aria-label="Host" className="rounded-md border border-white/10 bg-slate-950 px-2 py-1.5 outline-none focus:border-sky-400">
            <option value="">The one with the most free memory</option>
            {hosts.map((h) => (
              <option key={h} value={h}>{h}</option>
            ))}
          </select>
        </label>
      )}
      {error && (
        <p role="alert" className="rounded-md border border-red-500/40 bg-red-950/40 px-3 py-2 text-sm text-red-200">
          {error.message}
        </p>
      )}
      <button
        type="submit"
        disabled={pending}
        className="rounded-lg bg-sky-500 px-4 py-2.5 font-semibold text-slate-950 shadow-lg shadow-sky-500/20 hover:bg-sky-400 disabled:bg-slate-700 disabled:text-slate-400"
      >
        {pending ? 'Starting…' : 'Start desktop'}
      </button>
    </form>
  );
}
