// End-to-end tests: Debian's Chromium drives the real app (real Xvnc, real criu) on a server of their own.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

// Every worker loads this file again: the state dir is named once, by the runner, and handed down in the environment
// (workers inherit it), so the server and the tests agree on it. Only named here: the server creates it, and
// e2e/globalTeardown.ts removes it, so merely loading the config (--list) leaves nothing behind.
process.env.FREEZEFRAME_E2E_STATE_DIR ??= path.join(os.tmpdir(), `freezeframe-e2e-${process.pid}-${randomBytes(4).toString('hex')}`);
const stateDir = process.env.FREEZEFRAME_E2E_STATE_DIR;
const port = Number(process.env.FREEZEFRAME_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: 'e2e',
  // One machine, one set of displays, real processes: tests run one at a time.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  globalTeardown: './e2e/globalTeardown.ts',
  use: {
    baseURL,
    viewport: { width: 1440, height: 960 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      // `npx playwright install` cannot download here: Debian's Chromium it is.
      executablePath: process.env.FREEZEFRAME_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    // The one server (Next.js + the VNC bridge) as `npm start` runs it, on a production build (`npx next build`).
    command: 'node --import tsx --import ./server/runtime/register.js server/main.ts',
    url: `${baseURL}/api/desktops`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      FREEZEFRAME_STATE_DIR: stateDir,
      // Its signing key with it (made on first export), not the machine's /etc/freezeframe.
      FREEZEFRAME_KEY_DIR: path.join(stateDir, 'keys'),
      FREEZEFRAME_DEFAULT_DESKTOP: '0',
      // Displays of our own, away from other Freezeframes on this machine.
      FREEZEFRAME_DISPLAYS: process.env.FREEZEFRAME_E2E_DISPLAYS ?? '60-79',
    },
  },
});
