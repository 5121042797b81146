// Presenter mode of a desktop: full window, the big state banner, shortcuts, the auto-cycle and criu step by step.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { connection } from 'next/server';
import { ErrorPanel } from '@/components/ErrorPanel';
import { Presenter } from '@/components/presenter/Presenter';
import { audiencePath } from '@/server/audience';
import { getDesktop } from '@/server/api/operations';

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Presenting ${(await params).id}` };
}

export default async function PresentPage({ params }: Props) {
  await connection();
  const result = await getDesktop((await params).id);
  if (!result.ok) {
    if (result.status === 404 || result.status === 400) notFound();
    return <ErrorPanel title="Cannot read this desktop" error={result.error} />;
  }
  const { ok: _ok, ...detail } = result;
  return <Presenter initial={detail} audiencePath={audiencePath(detail.desktop.id)} />;
}
