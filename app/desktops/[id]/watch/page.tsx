// The audience's page (the audience link): the desktop, view only, and its state with the freeze timer; no controls.
// What a view token opens: it reads only the watch view, never the desktop's record with its control password.
import type { Metadata } from 'next';
import { connection } from 'next/server';
import { WatchScreen } from '@/components/presenter/WatchScreen';
import { getWatchView } from '@/server/api/watch';
import { readOrFail } from '../readOrFail';

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Watching ${(await params).id}` };
}

export default async function WatchPage({ params }: Props) {
  await connection();
  return readOrFail(await getWatchView((await params).id), (view) => <WatchScreen initial={view.desktop} serverTime={view.serverTime} />);
}
