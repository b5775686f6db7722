/**
 * Server-Sent Events: the console page keeps one response open and the server writes each change
 * to it as an event, so the device table updates without reloads or polling.
 */
import type { ServerResponse } from 'node:http';

/** Comment lines keep idle connections (and proxies) from timing out. */
const HEARTBEAT_MS = 15000;

/** Open event streams. */
export interface EventHub {
  /** Takes over `res` as an event stream; false when the limit of streams is reached. */
  add(res: ServerResponse): boolean;
  /** Sends an event with a JSON payload to every stream. */
  send(event: string, data: unknown): void;
  /** Ends all streams. */
  close(): void;
}

/** An {@link EventHub} holding at most `limit` streams. */
export function eventHub(limit: number): EventHub {
  const clients: ServerResponse[] = [];
  const heartbeat = setInterval(() => {
    for (const c of clients) c.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    add(res) {
      if (clients.length >= limit) return false;
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
      res.write(': connected\n\n');
      clients.push(res);
      res.on('close', () => {
        const i = clients.indexOf(res);
        if (i >= 0) clients.splice(i, 1);
      });
      return true;
    },
    send(event, data) {
      // JSON has no raw newlines, so the payload is one data line.
      const frame = 'event: ' + event + '\ndata: ' + JSON.stringify(data) + '\n\n';
      for (const c of clients) c.write(frame);
    },
    close() {
      clearInterval(heartbeat);
      for (const c of clients.splice(0)) c.end();
    },
  };
}
