// The dashboard: every desktop with its live state, a form to start one, and a way to stop each.
import { connection } from 'next/server';
import { DesktopList } from '@/components/DesktopList';
import { ErrorPanel } from '@/components/ErrorPanel';
import { StartDesktopForm } from '@/components/StartDesktopForm';
import { listDesktops } from '@/server/api/operations';

export default async function DashboardPage() {
  await connection(); // the desktops are read per request, never at build time
  const result = await listDesktops();
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
      </section>
      <aside>
        <StartDesktopForm />
      </aside>
    </div>
  );
}
