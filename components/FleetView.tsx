'use client';
// The fleet on the dashboard: every desktop of every host with its host and state, the hosts with their free
// memory, and a banner while the view is stale (etcd unreachable: this host still serves its own desktops).
// Read from GET /api/fleet every 2 s: the server itself reads etcd every second.
import { useEffect, useState } from 'react';
import Link from 'next/link';
import { bytes } from '@/lib/format';
import type { FleetSnapshot } from '@/lib/fleetTypes';
import { desktopStates, type DesktopState } from '@/lib/states';
import { StateBadge } from './StateBadge';
import { LocalTime } from './LocalTime';

const refreshMs = 2_000;

export function FleetView({ initial }: { initial: FleetSnapshot }) {
  const [fleet, setFleet] = useState(initial);
  useEffect(() => {
    let live = true;
    const read = async () => {
      const response = await fetch('/api/fleet', { cache: 'no-store' }).catch(() => undefined);
      if (live && response?.ok) setFleet(((await response.json()) as { fleet: FleetSnapshot }).fleet);
    };
    const timer = setInterval(() => void read(), refreshMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  const shown = fleet.desktops.filter((d) => d.state !== 'stopped');
  return (
    <section data-testid="fleet" data-fresh={fleet.fresh} className="grid gap-3">
      <div>
        <h2 className="text-lg font-semibold tracking-tight">Fleet</h2>
        <p className="mt-1 text-sm text-slate-400">
          This is <span className="font-mono text-slate-200">{fleet.self}</span>; {fleet.hosts.length} host{fleet.hosts.length === 1 ? '' : 's'} in the fleet.
        </p>
      </div>
      {!fleet.fresh && (
        <p role="alert" data-testid="fleet-stale" className="rounded-md border border-amber-400/30 bg-amber-400/10 px-3 py-2 text-sm text-amber-100">
          The fleet view is stale: etcd cannot be reached
          {fleet.readAt ? <> (last read <LocalTime iso={fleet.readAt} />)</> : null}. This host keeps serving its own desktops.
        </p>
      )}
      <ul className="flex flex-wrap gap-2 text-xs" data-testid="fleet-hosts">
        {fleet.hosts.map((h) => (
          <li key={h.id} data-host={h.id} className="rounded-md border border-white/10 bg-slate-900/60 px-2 py-1 text-slate-300">
            <span className="font-mono text-slate-100">{h.id}</span> {bytes(h.memAvailableBytes)} free
          </li>
        ))}
      </ul>
      {shown.length === 0 ? (
        <p className="text-sm text-slate-400">No desktop runs in the fleet.</p>
      ) : (
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-slate-500">
            <tr>
              <th className="py-1">Desktop</th>
              <th>Host</th>
              <th>State</th>
              <th>Size</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((d) => (
              <tr key={d.id} data-testid="fleet-desktop" data-desktop={d.id} data-host={d.host} className="border-t border-white/5">
                <td className="py-1.5 font-mono">
                  <Link href={`/desktops/${d.id}`} className="text-violet-300 hover:underline">{d.id}</Link>
                </td>
                <td className="font-mono text-slate-300">{d.host}{d.host === fleet.self ? ' (here)' : ''}</td>
                <td>{(desktopStates as readonly string[]).includes(d.state) ? <StateBadge state={d.state as DesktopState} /> : d.state}</td>
                <td className="tabular-nums text-slate-400">{d.geometry}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
