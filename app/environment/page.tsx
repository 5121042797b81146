// What this machine can do: criu's version and `criu check` verdict, the features desktops use, and Xvnc.
import type { Metadata } from 'next';
import { connection } from 'next/server';
import { probeEnvironment, type Probe } from '@/server/environment';
import { getEngine } from '@/server/engineHandle';

export const metadata: Metadata = { title: 'Environment' };

export default async function EnvironmentPage() {
  await connection();
  const env = await probeEnvironment(getEngine().config);
  return (
    <div className="grid max-w-4xl gap-6">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Environment</h1>
        <p className="mt-1 text-sm text-slate-400">Probed now, on this server. Reload to probe again.</p>
      </div>
      <section className="grid gap-3 sm:grid-cols-2">
        <Card title="CRIU" probe={env.criuVersion} testId="criu-version">
          <p className="mt-1 break-all font-mono text-xs text-slate-500">{env.criuPath}</p>
        </Card>
        <Card title="criu check" probe={env.criuCheck} testId="criu-check" />
        <Card title="Xvnc" probe={env.xvnc} testId="xvnc-version" />
        <Card title="Kernel and Node.js" probe={{ ok: true, detail: env.kernel }} informational>
          <p className="mt-1 text-xs text-slate-500">Node.js {env.node}</p>
        </Card>
      </section>
      <section>
        <Card title="Archive signing key" probe={env.signingKey} testId="signing-key">
          <p className="mt-2 text-xs text-slate-400">
            Exports are signed with it; imports are accepted from this installation and the keys in{' '}
            <span className="font-mono">{env.signingKey.trustedKeysFile}</span>. On another machine,{' '}
            <span className="font-mono">freezeframe trust &apos;{env.signingKey.ok ? env.signingKey.detail : 'LINE'}&apos;</span> lets it import
            this one&apos;s archives.
          </p>
          <ul data-testid="trusted-keys" className="mt-2 grid gap-1 break-all font-mono text-xs text-slate-500">
            {env.signingKey.trusted.length === 0 ? <li>No other key trusted.</li> : env.signingKey.trusted.map((k) => <li key={k}>trusted: {k}</li>)}
          </ul>
        </Card>
      </section>
      <section>
        <h2 className="mb-2 text-xs font-semibold uppercase tracking-wider text-slate-400">criu check --feature</h2>
        <div className="overflow-hidden rounded-xl border border-white/10">
          <table data-testid="criu-features" className="w-full text-left text-sm">
            <tbody className="divide-y divide-white/5">
              {env.features.map(({ name, why, probe }) => (
                <tr key={name} data-feature={name} data-supported={probe.ok ? 'yes' : 'no'}>
                  <td className="w-20 px-4 py-3">
                    <Verdict ok={probe.ok} />
                  </td>
                  <td className="px-4 py-3">
                    <div className="font-mono text-slate-100">{name}</div>
                    <div className="text-xs text-slate-400">{why}</div>
                  </td>
                  <td className="px-4 py-3 font-mono text-xs text-slate-400">{probe.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}

function Verdict({ ok }: { ok: boolean }) {
  return ok ? (
    <span className="rounded-full bg-emerald-400/15 px-2.5 py-0.5 text-xs font-semibold text-emerald-200 ring-1 ring-emerald-400/30">yes</span>
  ) : (
    <span className="rounded-full bg-red-500/15 px-2.5 py-0.5 text-xs font-semibold text-red-200 ring-1 ring-red-500/40">no</span>
  );
}

function Card({ title, probe, testId, informational, children }: { title: string; probe: Probe; testId?: string; informational?: boolean; children?: React.ReactNode }) {
  return (
    <div data-testid={testId} data-ok={probe.ok} className="rounded-xl border border-white/10 bg-slate-900/50 p-4">
      <div className="flex items-center justify-between">
        <h2 className="text-sm font-semibold text-slate-300">{title}</h2>
        {!informational && <Verdict ok={probe.ok} />}
      </div>
      <p className="mt-2 whitespace-pre-wrap font-mono text-sm text-slate-100">{probe.detail}</p>
      {probe.hint && <p className="mt-2 text-xs text-amber-200">{probe.hint}</p>}
      {children}
    </div>
  );
}
