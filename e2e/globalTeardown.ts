// After all tests: stop any desktop a failed test left behind (the server is still up), then drop the state dir.
import { rm } from 'node:fs/promises';
import type { FullConfig } from '@playwright/test';

export default async function globalTeardown(config: FullConfig): Promise<void> {
  const baseURL = config.projects[0].use.baseURL!;
  const response = await fetch(`${baseURL}/api/desktops`).catch(() => undefined);
  if (response?.ok) {
    const { desktops } = (await response.json()) as { desktops: { id: string; state: string }[] };
    for (const d of desktops.filter((d) => d.state !== 'stopped')) {
      console.warn(`[e2e teardown] stopping desktop ${d.id} left ${d.state}`);
      await fetch(`${baseURL}/api/desktops/${d.id}/stop`, { method: 'POST' }).catch(() => undefined);
    }
  }
  const stateDir = process.env.FREEZEFRAME_E2E_STATE_DIR;
  // Checkpoint images run to tens of MiB each; keep them only when asked to (to look into a failure).
  if (stateDir && !process.env.FREEZEFRAME_E2E_KEEP_STATE) await rm(stateDir, { recursive: true, force: true });
}
