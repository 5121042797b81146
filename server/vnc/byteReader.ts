// Exact-size reads from a stream of chunks, for RFB parsers: bytes are joined only when a read needs them (a full
// screen is megabytes, and joining at every chunk would copy it over and over).
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiting: { bytes: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
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

  close(error: Error): void {
    this.closedWith = error;
    this.waiting?.reject(error);
    this.waiting = undefined;
  }

  private pump(): void {
    const w = this.waiting;
    if (!w || this.buffered < w.bytes) return;
    this.waiting = undefined;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const rest = all.subarray(w.bytes);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    w.resolve(all.subarray(0, w.bytes));
  }
}
