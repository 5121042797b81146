// A checkpoint inspected: its screen, figures, and what its images hold: processes with command lines, open
// files, sockets and memory, decoded from CRIU's images (like checkpointctl does for containers).
import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { connection } from 'next/server';
import { bytes, seconds } from '@/lib/format';
import { ErrorPanel } from '@/components/ErrorPanel';
import { ProcessTable } from '@/components/ProcessTable';
import { getCheckpoint, inspectCheckpoint } from '@/server/api/operations';
import { LocalTime } from '@/components/LocalTime';

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Checkpoint ${(await params).id}` };
}

export default async function CheckpointPage({ params }: Props) {
  await connection();
  const { id } = await params;
  const record = await getCheckpoint(id);
  if (!record.ok) {
    if (record.status === 404 || record.status === 400) notFound();
    return <ErrorPanel title="Cannot read this checkpoint" error={record.error} />;
  }
  const c = record.checkpoint;
  const inspection = await inspectCheckpoint(id);
  const totals = inspection.ok
    ? inspection.processes.reduce((t, p) => ({ vma: t.vma + p.vmaBytes, dumped: t.dumped + p.dumpedBytes }), { vma: 0, dumped: 0 })
    : undefined;
  return (
    <div className="grid gap-6">
      <header className="flex flex-wrap items-center gap-x-4 gap-y-2">
        <Link href={`/desktops/${c.desktop}`} className="text-sm text-slate-400 hover:text-slate-200">
          ← Desktop {c.desktop}
        </Link>
        <h1 className="font-mono text-xl font-semibold text-slate-100">{c.id}</h1>
        <span className="text-sm text-slate-400">
          {c.leaveRunning ? 'Snapshot' : 'Checkpoint'} · <LocalTime iso={c.createdAt} /> · dump {seconds(c.dumpMs)} · images {bytes(c.imageBytes)} ·{' '}
          {c.restores.filter((r) => r.ok).length} restores
        </span>
        <a href={`/api/checkpoints/${c.id}/export`} download className="ml-auto rounded-md border border-white/10 px-3 py-1 text-sm text-slate-200 hover:bg-slate-800">
          Export .tar.zst
        </a>
      </header>

      <div className="grid gap-6 lg:grid-cols-[320px_minmax(0,1fr)]">
        <div className="grid content-start gap-3">
          {c.thumbnail ? (
            // A plain img: a 320 px PNG of our own.
            <img src={`/api/checkpoints/${c.id}/thumbnail`} alt="The screen just before the dump" width={320} className="rounded-lg border border-white/10" />
          ) : (
            <p className="rounded-lg border border-dashed border-white/10 p-6 text-center text-sm text-slate-500">No picture was taken</p>
          )}
          {totals && (
            <dl className="grid grid-cols-2 gap-2 text-center text-sm">
              <div className="rounded-lg border border-white/10 bg-slate-900/60 p-2">
                <dt className="text-[11px] uppercase tracking-wider text-slate-500">Mapped</dt>
                <dd className="font-semibold tabular-nums">{bytes(totals.vma)}</dd>
              </div>
              <div className="rounded-lg border border-white/10 bg-slate-900/60 p-2">
                <dt className="text-[11px] uppercase tracking-wider text-slate-500">Dumped</dt>
                <dd className="font-semibold tabular-nums">{bytes(totals.dumped)}</dd>
              </div>
            </dl>
          )}
        </div>

        {inspection.ok ? (
          <div className="grid min-w-0 content-start gap-6">
            <section>
              <h2 className="mb-2 text-xs font-semibold uppercase tracking-wider text-slate-400">Processes ({inspection.processes.length})</h2>
              <ProcessTable processes={inspection.processes} />
            </section>
            <section>
              <h2 className="mb-2 text-xs font-semibold uppercase tracking-wider text-slate-400">Sockets ({inspection.sockets.length})</h2>
              <ul data-testid="sockets" className="grid gap-1 font-mono text-xs">
                {inspection.sockets.map((s) => (
                  <li key={s.id} data-kind={s.kind} className="flex gap-3 rounded bg-slate-900/60 px-2 py-1">
                    <span className="w-10 shrink-0 uppercase text-slate-500">{s.kind}</span>
                    <span className="break-all text-slate-200">{s.description}</span>
                  </li>
                ))}
              </ul>
            </section>
          </div>
        ) : (
          <ErrorPanel title="Cannot inspect the images" error={inspection.error} />
        )}
      </div>
    </div>
  );
}
