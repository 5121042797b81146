// Xvnc's bytes are read into a few reused buffers, not a fresh one per read: a fresh 64 KiB buffer per read is
// external memory V8 must account for, and at hundreds of MB/s that churn drove the garbage collector over the
// whole server's heap (as much CPU as the relaying itself, profiled in bench/README.md).
import 'server-only';

export class ReadPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Bytes per read: up to this much of what Xvnc sent goes out as one WebSocket message. */
    readonly size: number,
    /** Buffers kept for reuse; more than this in flight at once are allocated and left to the GC. */
    readonly keep: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buffer: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buffer);
  }
}

/** Shared by every connection (one thread): the buffers in flight are bounded by the bridge's high-water mark. */
export const vncReadPool = new ReadPool(256 * 1024, 16);
