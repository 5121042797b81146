// A Server-Sent Events response: a hello with the server's clock, then what the source sends, with a heartbeat;
// whatever the source subscribed to is let go when the client leaves.
import 'server-only';

// Proxies and idle timeouts close a silent connection; a comment line now and then keeps it open.
const heartbeatMs = 15_000;

export type Send = (event: string, data: unknown) => void;

/** start subscribes with send and returns how to unsubscribe. */
export function eventStream(request: Request, start: (send: Send) => () => void): Response {
  const encoder = new TextEncoder();
  let cleanup = () => {};

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup(); // the stream is closed: the client went away between abort and this event
        }
      };
      const heartbeat = setInterval(() => write(': ping\n\n'), heartbeatMs);
      const unsubscribe = start((event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      cleanup = () => {
        unsubscribe();
        clearInterval(heartbeat);
        request.signal.removeEventListener('abort', cleanup);
        cleanup = () => {};
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      request.signal.addEventListener('abort', cleanup);
      // retry: how soon EventSource reconnects after the server restarts; hello: the server's clock.
      write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ serverTime: new Date().toISOString() })}\n\n`);
    },
    cancel() {
      cleanup();
    },
  });

  return new Response(stream, {
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform: Next.js's compression would otherwise buffer the stream and events would arrive late.
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    },
  });
}
