// A desktop's page: its live screen and the Checkpoint / Restore console (the rest lives in DesktopConsole).
import type { Metadata } from 'next';
import { connection } from 'next/server';
import { DesktopConsole } from '@/components/DesktopConsole';
import { getDesktop } from '@/server/api/operations';
import { audiencePath } from '@/server/audience';
import { moveTargets } from '@/server/api/fleetOperations';
import { readOrFail } from './readOrFail';

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Desktop ${(await params).id}` };
}

export default async function DesktopPage({ params }: Props) {
  await connection();
  return readOrFail(await getDesktop((await params).id), (detail) => <DesktopConsole initial={detail} audiencePath={audiencePath(detail.desktop.id)} moveHosts={moveTargets()} />);
}
