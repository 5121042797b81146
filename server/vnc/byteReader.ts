// Exact-size reads from a stream of chunks, for RFB parsers: bytes are joined only when a read needs them (a full
// screen is megabytes, and joining at every chunk would copy it over and over).
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiting: { bytes: number; resolve: (b: Buffer) => void; reject: (e: Error) => void; sink?: (chunk: Buffer) => void } | undefined;
  private closedWith: Error | undefined;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.pump();
  }

  /** The next `bytes` bytes, once they have arrived; rejects once the stream is closed. */
  read(bytes: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith);
      this.waiting = { bytes, resolve, reject };
      this.pump();
    });
  }

  /**
   * The next `bytes` bytes handed to sink piece by piece as they arrive, never joined: a screen's pixels, which a
   * client that only counts them (the benches) or copies them into its frame (the thumbnail) need not hold whole.
   */
  stream(bytes: number, sink: (chunk: Buffer) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith);
      this.waiting = { bytes, resolve: () => resolve(), reject, sink };
      this.pump();
    });
  }

  close(error: Error): void {
    this.closedWith = error;
    this.waiting?.reject(error);
    this.waiting = undefined;
  }

  private pump(): void {
    const w = this.waiting;
    if (w?.sink) {
      while (w.bytes > 0 && this.chunks.length) {
        const chunk = this.chunks[0];
        const take = Math.min(chunk.length, w.bytes);
        w.sink(take === chunk.length ? chunk : chunk.subarray(0, take));
        w.bytes -= take;
        this.buffered -= take;
        if (take === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(take);
      }
      if (w.bytes === 0) {
        this.waiting = undefined;
        w.resolve(Buffer.alloc(0));
      }
      return;
    }
    if (!w || this.buffered < w.bytes) return;
    this.waiting = undefined;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const rest = all.subarray(w.bytes);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    w.resolve(all.subarray(0, w.bytes));
  }
}
