// Reading a desktop's log: waiting for a line it announces, and its last lines for the page.
import 'server-only';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

export async function waitForLogLine(
  file: string,
  marker: string,
  { timeoutMs, stillWorthWaiting }: { timeoutMs: number; stillWorthWaiting: () => Promise<boolean> },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    if ((await readFile(file, 'utf8').catch(() => '')).includes(marker)) return;
    if (!(await stillWorthWaiting())) throw new Error(`the desktop exited before logging "${marker}" (see ${file})`);
    if (Date.now() >= deadline) throw new Error(`the desktop did not log "${marker}" within ${timeoutMs} ms (see ${file})`);
    await delay(wait);
  }
}

/** The last n lines of a text file ('' when it does not exist); a desktop log's freed head (NULs: storage/logs.ts) left out. */
export async function tailFile(file: string, n: number): Promise<string[]> {
  const text = (await readFile(file, 'utf8').catch(() => '')).replace(/\0+/g, '');
  return text.trimEnd().split('\n').slice(-n);
}
