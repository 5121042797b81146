// How a desktop's pages (console, presenter, watch) answer a read that failed: a bad or unknown id is a 404, any
// other failure shows its error.
import type { ReactNode } from 'react';
import { notFound } from 'next/navigation';
import { ErrorPanel } from '@/components/ErrorPanel';
import type { Result } from '@/lib/resultTypes';

export function readOrFail<T extends object>(result: Result<T>, render: (value: T) => ReactNode): ReactNode {
  if (!result.ok) {
    if (result.status === 404 || result.status === 400) notFound();
    return <ErrorPanel title="Cannot read this desktop" error={result.error} />;
  }
  const { ok: _ok, ...value } = result;
  return render(value as unknown as T);
}
