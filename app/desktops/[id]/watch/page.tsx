// The audience's page (the audience link): the desktop, view only, and its state with the freeze timer; no controls.
// What a view token opens: it reads only the watch view, never the desktop's record with its control password.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { connection } from 'next/server';
import { ErrorPanel } from '@/components/ErrorPanel';
import { WatchScreen } from '@/components/presenter/WatchScreen';
import { getWatchView } from '@/server/api/watch';

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Watching ${(await params).id}` };
}

export default async function WatchPage({ params }: Props) {
  await connection();
  const result = await getWatchView((await params).id);
  if (!result.ok) {
    if (result.status === 404 || result.status === 400) notFound();
    return <ErrorPanel title="Cannot read this desktop" error={result.error} />;
  }
  return <WatchScreen initial={result.desktop} serverTime={result.serverTime} />;
}
