// The server's own view of each running desktop's screen, kept up to date by a VNC client of its own, so that a
// checkpoint's thumbnail is there at once: no screen read (connect, VncAuth, a whole frame) before the freeze.
//
// Why (bench/results/overhead.md): reading the screen at the checkpoint put 10-30 ms (60 under load) between the
// request and criu's start. The kept client asks for at most one update per throttleMs (Raw, 32 bpp: the same
// parser as every thumbnail), so the picture is at most that old when the dump begins; it is closed gracefully at
// the dump, before criu looks at the tree (a connection of ours must not be dumped), and comes back once the
// desktop runs again, connectDelayMs later (not in the way of a restored viewer's first frames, 10-30 ms after
// the restore; and ready for a checkpoint soon after: at 1 s the overhead bench's dumps often found none kept).
//
// The kept picture alone lagged the screen: after each update the client waits throttleMs before it asks again, so
// a change made in that window (xterm's repaint a few ms after the echo of the Enter that asked for it) was not in
// it, and a checkpoint taken the moment the user saw the change showed the screen before it (test/thumbnails, and
// e2e/restoreAny about 1 run in 7). So at the checkpoint the client first asks Xvnc for what changed since
// (RfbClient.refresh), for at most freshMs: it overlaps the checkpoint's record writes, before criu starts.
import 'server-only';
import type { RfbClient } from './rfbClient';
import { connectRfb } from './target';
import type { Screen } from './thumbnail';

export interface KeptDesktop {
  id: string;
  state: string;
  vncPort: number;
  /** A contained desktop's Xvnc listens inside this network namespace (server/desktops/rooms.ts). */
  netnsPath?: string;
  vncPassword?: string;
}

export interface KeeperOptions {
  /** At most one update per this many ms: the age of the picture a checkpoint gets, at most. */
  throttleMs: number;
  /** How long after a desktop starts running (started, restored) the client connects. */
  connectDelayMs: number;
  /** At the checkpoint, how long to wait for Xvnc to send what changed since the last update (then: as kept). */
  freshMs: number;
}

class Watch {
  private client: RfbClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private framed = false;
  private released = false;

  constructor(
    readonly port: number,
    private readonly netnsPath: string | undefined,
    private readonly password: string | undefined,
    private readonly options: KeeperOptions,
  ) {
    this.later(options.connectDelayMs, () => this.connect());
  }

  private later(ms: number, fn: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(fn, ms);
    this.timer.unref();
  }

  private async connect(): Promise<void> {
    let client: RfbClient;
    try {
      client = await connectRfb({ port: this.port, netnsPath: this.netnsPath }, { autoRequest: false, keepPixels: true, password: this.password, timeoutMs: 5_000 });
    } catch {
      if (!this.released) this.later(5_000, () => this.connect());
      return;
    }
    if (this.released) return void client.closeGracefully();
    // Never what keeps a process (a test, the CLI) alive.
    client.socket?.unref();
    this.client = client;
    this.framed = false;
    client.on('update', () => {
      this.framed = true;
      if (!this.released) this.later(this.options.throttleMs, () => client.requestUpdate(true));
    });
    client.on('closed', () => {
      if (this.client === client) this.client = undefined;
      if (!this.released) this.later(this.options.connectDelayMs, () => this.connect());
    });
    client.requestUpdate(false);
  }

  /**
   * The last picture (none before the first whole frame), once our connection is closed on both sides; with fresh,
   * what changed since the last update first (bounded by options.freshMs).
   */
  async release(fresh = false): Promise<Screen | undefined> {
    this.released = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (!client) return undefined;
    if (fresh) await client.refresh(this.options.freshMs);
    const screen = this.framed && client.pixels ? { width: client.width, height: client.height, pixels: client.pixels } : undefined;
    await client.closeGracefully();
    return screen;
  }
}

export class ScreenKeeper {
  private readonly watches = new Map<string, Watch>();

  // freshMs: Xvnc answered in 1-7 ms (test/thumbnails, 640x480, 9 dumps; 27 ms once, the first dump of a process
  // with an e2e run loading both cores), and the wait overlaps the record writes: the dumps' trace showed 0-2.5 ms
  // between those and criu's start.
  constructor(private readonly options: KeeperOptions = { throttleMs: 100, connectDelayMs: 300, freshMs: 50 }) {}

  /** Told of a desktop's state as it changes: watched while running, let go otherwise. */
  follow(desktop: KeptDesktop): void {
    const watch = this.watches.get(desktop.id);
    if (desktop.state === 'running') {
      if (watch?.port === desktop.vncPort) return;
      void watch?.release();
      this.watches.set(desktop.id, new Watch(desktop.vncPort, desktop.netnsPath, desktop.vncPassword, this.options));
    } else if (watch) {
      this.watches.delete(desktop.id);
      void watch.release();
    }
  }

  /**
   * The picture of a desktop about to be dumped, as it is now, its connection closed; undefined when none is kept
   * yet. The kept picture alone can be a throttle old: the screen before the change the user just made.
   */
  async take(id: string): Promise<Screen | undefined> {
    const watch = this.watches.get(id);
    this.watches.delete(id);
    return watch?.release(true);
  }

  close(): void {
    for (const watch of this.watches.values()) void watch.release();
    this.watches.clear();
  }
}
