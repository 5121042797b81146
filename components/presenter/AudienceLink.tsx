'use client';
// The audience link of a desktop, whole (this page's origin plus the watch path and its view token) with a Copy
// button: whoever opens it watches the desktop and its state, and can do nothing else.
import { useEffect, useRef, useState } from 'react';
import { ActionButton } from '../ActionButton';

export function AudienceLink({ path, compact = false }: { path: string; compact?: boolean }) {
  const [url, setUrl] = useState(path);
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => setUrl(new URL(path, window.location.href).href), [path]);

  const copy = async () => {
    try {
      // navigator.clipboard exists only in secure contexts (https, localhost): not on http://10.0.0.5:3000.
      if (navigator.clipboard) await navigator.clipboard.writeText(url);
      else {
        input.current?.select();
        if (!document.execCommand('copy')) throw new Error('copy refused');
      }
      setCopied(true);
      setTimeout(() => setCopied(false), 2_000);
    } catch {
      input.current?.select(); // at least ready for Ctrl+C
    }
  };

  return (
    <div data-testid="audience-link" className={`grid gap-1.5 ${compact ? '' : 'rounded-lg border border-white/10 bg-slate-900/60 p-3'}`}>
      <span className="text-xs font-semibold uppercase tracking-wider text-slate-400">Audience link · view only</span>
      <div className="flex gap-2">
        <input
          ref={input}
          readOnly
          value={url}
          aria-label="Audience link"
          onFocus={(e) => e.currentTarget.select()}
          className="min-w-0 flex-1 rounded-md border border-white/10 bg-slate-950 px-2 py-1 font-mono text-xs text-slate-200"
        />
        <ActionButton
          type="button"
          onClick={() => void copy()}
          className="rounded-md border border-white/10 bg-slate-800 px-3 py-1 text-sm text-slate-200 hover:bg-slate-700"
        >
          {copied ? 'Copied' : 'Copy'}
        </ActionButton>
      </div>
      <span className="text-xs text-slate-500">Shows the desktop and its state; sends no input, opens no controls.</span>
    </div>
  );
}
