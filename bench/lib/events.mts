// The server's desktop events (GET /api/events, Server-Sent Events) as a Node listener list.
export interface BenchEvent {
  type: string;
  desktop: { id: string; state: string };
  checkpoint?: { id: string };
  ms?: number;
  connections?: string;
}

export async function subscribeEvents(url: string, onEvent: (e: BenchEvent, at: number) => void): Promise<() => void> {
  const ac = new AbortController();
  const res = await fetch(`${url}/api/events`, { signal: ac.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const at = performance.now();
        buffer += decoder.decode(value, { stream: true });
        let i;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          if (!/^event: desktop$/m.test(block)) continue;
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) onEvent(JSON.parse(data), at);
        }
      }
    } catch {}
  })();
  return () => ac.abort();
}
