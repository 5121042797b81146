// Types of freezeframe/playwright (playwright.js).
import type { Browser, Locator, Page, TestType, PlaywrightTestArgs, PlaywrightTestOptions, PlaywrightWorkerArgs, PlaywrightWorkerOptions } from '@playwright/test';
import type { Desktop, FreezeframeClient, StartOptions } from './index.js';

export { expect } from '@playwright/test';

/** A clone of the prepared checkpoint, running, for one test. */
export interface ClonedDesktop extends Desktop {
  /** Its page on the dashboard: the live viewer (with the token when the client has one). */
  viewerUrl: string;
  /** Opens viewerUrl in the page, waits for the viewer to connect; returns the screen's canvas. */
  openViewer(page: Page): Promise<Locator>;
}

export interface Template extends StartOptions {
  /**
   * Brings the started desktop to the state each test should begin from, before its checkpoint: through the client,
   * or a page of the worker's browser (`openViewer(await browser.newPage(), client.viewerUrl(desktop.id))`).
   */
  prepare?: (args: { client: FreezeframeClient; desktop: Desktop; browser: Browser }) => Promise<void>;
}

export interface FreezeframeTestFixtures {
  /** A new clone of freezeframeCheckpoint, stopped and removed after the test. */
  clone: ClonedDesktop;
}

export interface FreezeframeWorkerOptions {
  /** The Freezeframe server (default FREEZEFRAME_URL, else http://127.0.0.1:3000). */
  freezeframeUrl: string | undefined;
  /** Its token when it is not bound to loopback (default FREEZEFRAME_TOKEN). */
  freezeframeToken: string | undefined;
  /** How the prepared desktop is started (default 1024x768 with xterm), or the id of a checkpoint made elsewhere. */
  freezeframeTemplate: Template | string;
}

export interface FreezeframeWorkerFixtures {
  freezeframe: FreezeframeClient;
  /** The prepared checkpoint's id (made once per worker unless freezeframeTemplate names one). */
  freezeframeCheckpoint: string;
}

export declare const test: TestType<
  PlaywrightTestArgs & PlaywrightTestOptions & FreezeframeTestFixtures,
  PlaywrightWorkerArgs & PlaywrightWorkerOptions & FreezeframeWorkerOptions & FreezeframeWorkerFixtures
>;

export declare function discard(client: FreezeframeClient, id: string): Promise<void>;
export declare function openViewer(page: Page, url: string): Promise<Locator>;
