// An operation's failure as a person needs it: what failed, CRIU's first Error lines, its hint and log.
import type { ApiError } from '@/lib/resultTypes';

export function ErrorPanel({ title, error }: { title: string; error: ApiError }) {
  return (
    <section role="alert" data-testid="error-panel" data-code={error.code} className="rounded-xl border border-red-500/40 bg-red-950/40 p-4 text-sm">
      <h3 className="font-semibold text-red-200">{title}</h3>
      <p className="mt-1 [overflow-wrap:anywhere] text-red-100">{error.message}</p>
      {error.errors && error.errors.length > 0 && (
        <pre className="mt-3 whitespace-pre-wrap break-all rounded-md bg-black/40 p-3 font-mono text-xs leading-relaxed text-red-200">
          {error.errors.join('\n')}
        </pre>
      )}
      {error.hint && (
        <p data-testid="error-hint" className="mt-3 rounded-md border border-amber-400/30 bg-amber-400/10 px-3 py-2 text-amber-100">
          <span className="font-semibold">Hint: </span>
          {error.hint}
        </p>
      )}
      {error.fields && (
        <ul className="mt-2 list-inside list-disc text-red-100">
          {Object.entries(error.fields).map(([field, messages]) => (
            <li key={field}>
              {field}: {messages.join('; ')}
            </li>
          ))}
        </ul>
      )}
      <p className="mt-3 flex flex-wrap gap-x-4 gap-y-1 text-xs text-red-300/80">
        <span>code {error.code}</span>
        {error.exitCode !== undefined && <span>criu exit code {error.exitCode}</span>}
        {error.logPath && <span className="break-all font-mono">log {error.logPath}</span>}
      </p>
    </section>
  );
}
