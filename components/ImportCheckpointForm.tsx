'use client';
// Uploads a checkpoint archive (from Export, here or on a machine set up alike); its desktop appears, stopped.
import { useState } from 'react';
import Link from 'next/link';
import { bytes } from '@/lib/format';
import type { ApiError } from '@/lib/resultTypes';
import type { CheckpointView, DesktopView } from '@/lib/viewTypes';
import { ErrorPanel } from './ErrorPanel';

/** Tells the desktop list to read again: an import creates a desktop without an engine event. */
export const desktopsChangedEvent = 'freezeframe:desktops-changed';

type Imported = { checkpoint: CheckpointView; desktop: DesktopView };

export function ImportCheckpointForm() {
  const [file, setFile] = useState<File | null>(null);
  const [pending, setPending] = useState(false);
  const [result, setResult] = useState<{ ok: true; imported: Imported } | { ok: false; error: ApiError } | null>(null);

  async function upload(event: React.FormEvent) {
    event.preventDefault();
    if (!file) return;
    setPending(true);
    setResult(null);
    try {
      // The file itself as the body, not multipart: the server streams it to disk under its size limit.
      // Its type by its name: export writes .tar.zst; archives exported before are .tar.gz.
      const type = /\.(tar\.gz|tgz)$/i.test(file.name) ? 'application/gzip' : 'application/zstd';
      const response = await fetch('/api/checkpoints/import', { method: 'POST', body: file, headers: { 'Content-Type': type } });
      const body = await response.json().catch(() => ({ error: { code: 'internal', message: `HTTP ${response.status}` } }));
      if (response.ok) {
        setResult({ ok: true, imported: body as Imported });
        window.dispatchEvent(new Event(desktopsChangedEvent));
      } else {
        setResult({ ok: false, error: (body as { error: ApiError }).error });
      }
    } catch (error) {
      setResult({ ok: false, error: { code: 'unreachable', message: (error as Error).message } });
    } finally {
      setPending(false);
    }
  }

  return (
    <form onSubmit={upload} data-testid="import-form" className="grid gap-3 rounded-xl border border-white/10 bg-slate-900/50 p-5">
      <h2 className="text-lg font-semibold">Import a checkpoint</h2>
      <p className="text-xs text-slate-400">
        A <span className="font-mono">.tar.zst</span> (or an older <span className="font-mono">.tar.gz</span>) from Export, here or on a machine whose key this one trusts (see the
        Environment page). Its desktop appears here, stopped, ready to restore.
      </p>
      <input
        type="file"
        accept=".tar.zst,.zst,.tar.gz,.tgz,application/zstd,application/gzip"
        aria-label="Checkpoint archive"
        onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        className="text-sm text-slate-300 file:mr-3 file:rounded-md file:border-0 file:bg-slate-800 file:px-3 file:py-1.5 file:text-slate-200"
      />
      <button
        type="submit"
        disabled={!file || pending}
        className="rounded-lg bg-slate-700 px-4 py-2 font-semibold text-slate-100 hover:bg-slate-600 disabled:opacity-40"
      >
        {pending ? 'Importing…' : file ? `Import ${bytes(file.size)}` : 'Import'}
      </button>
      {result?.ok === true && (
        <p role="status" data-testid="import-result" className="rounded-md border border-emerald-400/30 bg-emerald-400/10 px-3 py-2 text-sm text-emerald-200">
          Imported <span className="font-mono">{result.imported.checkpoint.id}</span> of desktop{' '}
          <Link href={`/desktops/${result.imported.desktop.id}`} className="font-mono underline">
            {result.imported.desktop.id}
          </Link>{' '}
          ({result.imported.desktop.state}).
        </p>
      )}
      {result?.ok === false && <ErrorPanel title="Import failed" error={result.error} />}
    </form>
  );
}
