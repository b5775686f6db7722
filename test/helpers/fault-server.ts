/**
 * A real HTTP server on 127.0.0.1 that serves one manifest and one image and misbehaves on
 * request: bodies cut short (FIN or RST), stalls, corrupted bytes, ignored ranges, wrong
 * Content-Range, extra bytes, error statuses with Retry-After.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal } from './fixtures.js';

/** How one image response misbehaves. */
export interface Fault {
  /** Bytes of the image the server has: bodies stop there (FIN) while headers claim the full size. */
  haveBytes?: number;
  /** End this body (FIN) after this many bytes. */
  cutAfter?: number;
  /** Reset the connection (RST) after this many body bytes. */
  resetAfter?: number;
  /** Stop sending after this many body bytes, keeping the connection open. */
  stallAfter?: number;
  /** Flip the byte at this image offset. */
  corruptAt?: number;
  /** Answer 200 with the whole image, whatever the Range. */
  ignoreRange?: boolean;
  /** Answer with this status (and Retry-After) instead of the image. */
  status?: number;
  retryAfter?: string;
  /** Send this Content-Range instead of the right one (null: none). */
  contentRange?: string | null;
  /** Bytes of garbage after the image, counted in Content-Length. */
  extraBytes?: number;
}

export interface FaultServer {
  url: string;
  /** Range headers of the image requests received, in order. */
  ranges: (string | undefined)[];
  /** Body bytes written for image requests, in total. */
  bytesSent: number;
  /** Status reports received. */
  reports: Record<string, unknown>[];
}

/**
 * Starts the server. `manifest` is sent as is (object as JSON, string raw); its `url` should be
 * "image.bin". `faults`: one Fault for every image request, or a list for the first requests
 * (the rest are served correctly).
 */
export async function faultServer(manifest: unknown, image: Buffer, faults: Fault | Fault[] = {}): Promise<FaultServer> {
  const state: FaultServer = { url: '', ranges: [], bytesSent: 0, reports: [] };
  const faultFor = (n: number): Fault => (Array.isArray(faults) ? (faults[n] ?? {}) : faults);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        state.reports.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
      return;
    }
    if (path.startsWith('/v1/ota/') && path.includes('/latest/')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
      return;
    }
    const f = faultFor(state.ranges.length);
    state.ranges.push(req.headers.range);
    if (f.status) {
      res.writeHead(f.status, f.retryAfter === undefined ? {} : { 'Retry-After': f.retryAfter }).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ranged = m !== null && !f.ignoreRange;
    const start = ranged ? Number(m![1]) : 0;
    let body = image.subarray(start);
    if (f.corruptAt !== undefined && f.corruptAt >= start) {
      body = Buffer.from(body);
      body[f.corruptAt - start]! ^= 0xff;
    }
    if (f.extraBytes) body = Buffer.concat([body, Buffer.alloc(f.extraBytes, 0xee)]);
    const headers: Record<string, string | number> = { 'Content-Length': body.length };
    const range = f.contentRange === undefined ? 'bytes ' + start + '-' + (image.length - 1) + '/' + image.length : f.contentRange;
    if (ranged && range !== null) headers['Content-Range'] = range;
    res.writeHead(ranged ? 206 : 200, headers);

    const limit = Math.min(f.cutAfter ?? Infinity, f.resetAfter ?? Infinity, f.stallAfter ?? Infinity, f.haveBytes === undefined ? Infinity : Math.max(0, f.haveBytes - start));
    if (limit >= body.length) {
      state.bytesSent += body.length;
      res.end(body);
      return;
    }
    state.bytesSent += limit;
    res.write(body.subarray(0, limit), () => {
      if (f.resetAfter !== undefined) res.destroy();
      else if (f.stallAfter === undefined) res.socket?.end(); // FIN: the client reads every byte sent, then the body ends early
    });
  };
  state.url = await listenLocal(createServer(handle));
  return state;
}
