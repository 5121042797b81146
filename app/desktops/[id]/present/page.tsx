// Presenter mode of a desktop: full window, the big state banner, shortcuts, the auto-cycle and criu step by step.
import type { Metadata } from 'next';
import { connection } from 'next/server';
import { Presenter } from '@/components/presenter/Presenter';
import { audiencePath } from '@/server/audience';
import { getDesktop } from '@/server/api/operations';
import { readOrFail } from '../readOrFail';

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Presenting ${(await params).id}` };
}

export default async function PresentPage({ params }: Props) {
  await connection();
  return readOrFail(await getDesktop((await params).id), (detail) => <Presenter initial={detail} audiencePath={audiencePath(detail.desktop.id)} />);
}
