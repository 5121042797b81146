// The dashboard: every desktop with its live state (in a fleet, every host's too), a form to start one, a way to stop each, checkpoint import,
// and the disk space checkpoints use.
import { connection } from 'next/server';
import { DesktopList } from '@/components/DesktopList';
import { FleetView } from '@/components/FleetView';
import { ErrorPanel } from '@/components/ErrorPanel';
import { ImportCheckpointForm } from '@/components/ImportCheckpointForm';
import { StartDesktopForm } from '@/components/StartDesktopForm';
import { StorageFigure } from '@/components/StorageFigure';
import { fleetSnapshot, getStorage, listDesktops } from '@/server/api/operations';

export default async function DashboardPage() {
  await connection(); // the desktops are read per request, never at build time
  const [result, storage, fleet] = await Promise.all([listDesktops(), getStorage(), fleetSnapshot()]);
  return (
    <div className="grid gap-8 lg:grid-cols-[minmax(0,1fr)_22rem]">
      <section className="grid content-start gap-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Desktops</h1>
          <p className="mt-1 text-sm text-slate-400">
            Each is a whole Linux desktop in its own namespaces. Open one to watch it, checkpoint it, and bring it back.
          </p>
        </div>
        {result.ok ? <DesktopList initial={result.desktops} /> : <ErrorPanel title="Cannot list the desktops" error={result.error} />}
        {/* In a fleet only (FREEZEFRAME_ETCD): every host's desktops; on a single host nothing changes. */}
        {fleet.ok && <FleetView initial={fleet.fleet} />}
      </section>
      <aside className="grid content-start gap-4">
        <StartDesktopForm hosts={fleet.ok ? fleet.fleet.hosts.map((h) => h.id) : undefined} />
        <ImportCheckpointForm />
        {storage.ok && <StorageFigure storage={storage.storage} />}
      </aside>
    </div>
  );
}
