// Awaits a state: retries fn until it stops throwing, or rethrows its last error at the deadline.
import { setTimeout as delay } from 'node:timers/promises';

export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 10; ; wait = Math.min(wait * 2, 250)) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await delay(wait);
    }
  }
}
