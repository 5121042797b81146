'use client';
// A moment shown in the viewer's own time zone and locale. The server cannot know them: it renders the time in UTC
// (marked so), and the browser puts its local time in after hydration, so the two renders never disagree (a
// mismatch is a React error, and Node's ICU even writes midnight as "24:00" where browsers write "00:00").
import { useSyncExternalStore } from 'react';
import { clock, when } from '@/lib/format';

const subscribe = () => () => {};

export function LocalTime({ iso, kind = 'when' }: { iso: string | undefined; kind?: 'when' | 'clock' }) {
  const inBrowser = useSyncExternalStore(subscribe, () => true, () => false);
  const format = kind === 'clock' ? clock : when;
  return (
    <time dateTime={iso} className="tabular-nums">
      {inBrowser ? format(iso) : format(iso, 'UTC')}
    </time>
  );
}
