// A process that contends for a desktop's lock: on each "go" line it tries once, and if it gets the lock, holds it
// for a while; it reports "enter <ms> leave <ms>" or "refused".
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { acquireLock } from '../../server/desktops/lock';

const [file, holdMs] = process.argv.slice(2);
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'go') continue;
  try {
    const lock = await acquireLock(file, 'test', 'the desktop');
    const enter = performance.timeOrigin + performance.now();
    await delay(Number(holdMs));
    const leave = performance.timeOrigin + performance.now();
    await lock.release();
    process.stdout.write(`enter ${enter} leave ${leave}\n`);
  } catch {
    process.stdout.write('refused\n');
  }
}
