/**
 * The update server's and the console's JSON answers. `no-store`: they say how things are now
 * (reports, device lists, "no firmware for this id"), which a browser or a caching proxy must not
 * replay once a release is published or a device reported again.
 */
import type { ServerResponse } from 'node:http';

/** Answers `status` with `body` as JSON. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}
