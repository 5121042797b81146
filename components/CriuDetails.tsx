// The latest operation's exact criu command line and the last lines of its log.
import { shellQuote } from '@/lib/format';
import type { LogTail, OperationView } from './desktopTypes';

export function CriuDetails({ operation, log }: { operation?: OperationView; log?: LogTail }) {
  const command = operation?.command;
  if (!command?.length && !log) return null;
  return (
    <section className="grid gap-4">
      {command && command.length > 0 && (
        <div>
          <h3 className="mb-1.5 text-xs font-semibold uppercase tracking-wider text-slate-400">
            The command that ran ({operation?.kind === 'dump' ? 'checkpoint' : operation?.kind})
          </h3>
          <pre data-testid="criu-command" className="whitespace-pre-wrap [overflow-wrap:anywhere] rounded-lg border border-white/10 bg-black/50 p-3 font-mono text-xs leading-relaxed text-slate-200">
            <span className="select-none text-slate-500"># </span>
            {shellQuote(command)}
          </pre>
        </div>
      )}
      {log && (
        <div>
          <h3 className="mb-1.5 flex flex-wrap items-baseline gap-x-2 text-xs font-semibold uppercase tracking-wider text-slate-400">
            criu {log.operation} log, last {log.lines.length} lines
            <span className="break-all font-mono font-normal normal-case tracking-normal text-slate-500">{log.path}</span>
          </h3>
          <pre data-testid="criu-log" className="max-h-72 overflow-auto rounded-lg border border-white/10 bg-black/50 p-3 font-mono text-[11px] leading-relaxed text-slate-300">
            {log.lines.map((line, i) => (
              <div key={i} className={/^\(?[\s\d.]*\)?\s*Error/.test(line) ? 'text-red-300' : /finished successfully/.test(line) ? 'text-emerald-300' : undefined}>
                {line}
              </div>
            ))}
          </pre>
        </div>
      )}
    </section>
  );
}
