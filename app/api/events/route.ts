// GET /api/events: the desktops' events (started, checkpointing, checkpointed, restoring, …) as Server-Sent Events.
import { subscribe } from '@/server/api/eventHub';
import type { DesktopEvent } from '@/server/desktops/registry';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

// Proxies and idle timeouts close a silent connection; a comment line now and then keeps it open.
const heartbeatMs = 15_000;

export async function GET(request: Request) {
  const encoder = new TextEncoder();
  let cleanup = () => {};

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup(); // the stream is closed: the client went away between abort and this event
        }
      };
      const onEvent = (event: DesktopEvent) => {
        send(`event: desktop\ndata: ${JSON.stringify({ ...event, at: new Date().toISOString() })}\n\n`);
      };
      const heartbeat = setInterval(() => send(': ping\n\n'), heartbeatMs);
      const unsubscribe = subscribe(onEvent);
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
      send(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ serverTime: new Date().toISOString() })}\n\n`);
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
