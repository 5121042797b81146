// A desktop's page: its live screen and the Checkpoint / Restore console (the rest lives in DesktopConsole).
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { connection } from 'next/server';
import { DesktopConsole } from '@/components/DesktopConsole';
import { ErrorPanel } from '@/components/ErrorPanel';
import { getDesktop } from '@/server/api/operations';
import { audiencePath } from '@/server/audience';

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Desktop ${(await params).id}` };
}

export default async function DesktopPage({ params }: Props) {
  await connection();
  const result = await getDesktop((await params).id);
  if (!result.ok) {
    if (result.status === 404 || result.status === 400) notFound();
    return <ErrorPanel title="Cannot read this desktop" error={result.error} />;
  }
  const { ok: _ok, ...detail } = result;
  return <DesktopConsole initial={detail} audiencePath={audiencePath(detail.desktop.id)} />;
}
