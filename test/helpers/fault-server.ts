/**
 * A real HTTP server on 127.0.0.1 that serves one manifest and one image and misbehaves on
 * request: cut bodies short, ignore Range, lie in Content-Range.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onCleanup } from './fixtures.js';

/** How the image endpoint misbehaves. */
export interface Faults {
  /** Bytes of the image the server has: bodies stop there, while headers claim the full size. */
  haveBytes?: number;
  /** Answer 200 with the whole image to every Range request. */
  ignoreRange?: boolean;
  /** Status code to answer image requests with, instead of the image. */
  status?: number;
}

export interface FaultServer {
  url: string;
  /** Range headers of the image requests received, in order. */
  ranges: (string | undefined)[];
  /** Status reports received. */
  reports: Record<string, unknown>[];
}

/** Starts the server. `manifest` is sent as is (object as JSON, string raw); its `url` should be "image.bin". */
export async function faultServer(manifest: unknown, image: Buffer, faults: Faults = {}): Promise<FaultServer> {
  const ranges: (string | undefined)[] = [];
  const reports: Record<string, unknown>[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        reports.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
      return;
    }
    if (path.startsWith('/v1/ota/')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
      return;
    }
    ranges.push(req.headers.range);
    if (faults.status) {
      res.writeHead(faults.status).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !faults.ignoreRange ? Number(m[1]) : 0;
    const headers: Record<string, string | number> = { 'Content-Length': image.length - start };
    if (start > 0 || (m && !faults.ignoreRange)) headers['Content-Range'] = 'bytes ' + start + '-' + (image.length - 1) + '/' + image.length;
    res.writeHead(m && !faults.ignoreRange ? 206 : 200, headers);
    const have = faults.haveBytes ?? image.length;
    if (have >= image.length) {
      res.end(image.subarray(start));
      return;
    }
    // FIN, not RST: the client reads every byte sent, then sees the body end early.
    res.write(image.subarray(start, Math.max(start, have)), () => res.socket?.end());
  };
  const server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return { url: 'http://127.0.0.1:' + (server.address() as AddressInfo).port, ranges, reports };
}
