// A checkpoint's processes as a tree (children indented under their parent), each with its open files folded away.
import { bytes } from '@/lib/format';
import type { InspectedProcess } from '@/server/checkpoints/inspect';

/** Depth-first, so each process sits right under its parent. */
function treeOrder(processes: InspectedProcess[]): { process: InspectedProcess; depth: number }[] {
  const pids = new Set(processes.map((p) => p.pid));
  const children = new Map<number, InspectedProcess[]>();
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: { process: InspectedProcess; depth: number }[] = [];
  const visit = (p: InspectedProcess, depth: number) => {
    out.push({ process: p, depth });
    for (const child of children.get(p.pid) ?? []) visit(child, depth + 1);
  };
  for (const root of processes.filter((p) => !pids.has(p.ppid))) visit(root, 0);
  return out;
}

export function ProcessTable({ processes }: { processes: InspectedProcess[] }) {
  return (
    <div className="overflow-x-auto rounded-xl border border-white/10">
      <table data-testid="processes" className="w-full text-left text-sm">
        <thead className="border-b border-white/10 text-xs uppercase tracking-wider text-slate-500">
          <tr>
            <th className="px-3 py-2 font-medium">PID</th>
            <th className="px-3 py-2 font-medium">Process and command line</th>
            <th className="px-3 py-2 text-right font-medium">Threads</th>
            <th className="px-3 py-2 text-right font-medium" title="Address space mapped (VMAs)">Mapped</th>
            <th className="px-3 py-2 text-right font-medium" title="Pages written into the images">Dumped</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-white/5">
          {treeOrder(processes).map(({ process: p, depth }) => (
            <tr key={p.pid} data-pid={p.pid} data-comm={p.comm} className="align-top">
              <td className="px-3 py-2 tabular-nums text-slate-400">{p.pid}</td>
              <td className="px-3 py-2" style={{ paddingLeft: `${0.75 + depth * 1.25}rem` }}>
                <div className="font-semibold text-slate-100">{p.comm}</div>
                <div data-testid="cmdline" className="break-all font-mono text-xs text-slate-300">
                  {p.cmdline.join(' ') || <span className="text-slate-500">(no command line)</span>}
                </div>
                {p.fds.length > 0 && (
                  <details className="mt-1 text-xs">
                    <summary className="cursor-pointer text-slate-500 hover:text-slate-300">{p.fds.length} open files</summary>
                    <ul className="mt-1 grid gap-0.5 font-mono">
                      {p.fds.map((fd) => (
                        <li key={fd.fd} className="flex gap-2">
                          <span className="w-8 shrink-0 text-right text-slate-500">{fd.fd}</span>
                          <span className="w-16 shrink-0 text-slate-400">{fd.type}</span>
                          <span className="break-all text-slate-300">{fd.target}</span>
                        </li>
                      ))}
                    </ul>
                  </details>
                )}
              </td>
              <td className="px-3 py-2 text-right tabular-nums text-slate-300">{p.threads}</td>
              <td className="px-3 py-2 text-right tabular-nums text-slate-300" data-bytes={p.vmaBytes}>{bytes(p.vmaBytes)}</td>
              <td className="px-3 py-2 text-right tabular-nums text-slate-300" data-bytes={p.dumpedBytes}>{bytes(p.dumpedBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
