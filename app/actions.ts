'use server';
// The dashboard's actions: start a desktop from the form (then open it), stop one.
import { redirect } from 'next/navigation';
import { revalidatePath } from 'next/cache';
import { startDesktop, stopDesktop } from '@/server/api/operations';
import type { Failure } from '@/server/api/results';

export type StartFormState = Failure | undefined;

/**
 * The form sends width, height, the chosen apps and maybe a command of the user's own, split at white space
 * into argv (no shell: quotes, pipes and variables mean nothing); the shared schema checks all of it.
 */
export async function startDesktopAction(_previous: StartFormState, form: FormData): Promise<StartFormState> {
  const width = String(form.get('width') ?? '').trim();
  const height = String(form.get('height') ?? '').trim();
  const command = String(form.get('command') ?? '').trim();
  const commands = command ? [command.split(/\s+/)] : undefined;
  const result = await startDesktop({ geometry: `${width}x${height}`, apps: form.getAll('apps').map(String), commands });
  if (!result.ok) return result;
  revalidatePath('/');
  redirect(`/desktops/${result.desktop.id}`);
}

export async function stopDesktopAction(desktopId: string) {
  const result = await stopDesktop(desktopId);
  if (result.ok) revalidatePath('/');
  return result;
}
