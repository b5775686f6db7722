/**
 * `file://` URLs answered like an HTTP server with byte ranges, so that a release on a local disk
 * (`ota device install FILE`) goes through the same downloader, checks and resume as one on a
 * server. Every other URL goes to the network transport.
 */
import { fileURLToPath } from 'node:url';
import { otaError } from '../../errors.js';
import { parseRange } from './byte-range.js';
import { fsPromisesModule } from './lazy-modules.js';
import { systemErrorText } from './system-error.js';
import type { HttpRequest, HttpResponse, StreamHandlers, Transport } from '../interfaces.js';

const PIECE = 64 * 1024;

function isFile(url: string): boolean {
  return url.indexOf('file://') === 0;
}

/** 404 for a missing file (as a server would answer); other refusals are errors in words. */
async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await fsPromisesModule().stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw otaError('SLOT_IO', 'download', 'cannot read ' + (systemErrorText(e) ?? path));
  }
}


/** Serves `file://` URLs from disk and passes the rest to `network`. */
export function fileTransport(network: Transport): Transport {
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      if (!isFile(req.url)) return network.request(req);
      const path = fileURLToPath(req.url);
      const size = await sizeOf(path);
      if (size === null) return { status: 404, headers: {}, body: '' };
      const body = req.method === 'HEAD' ? '' : await fsPromisesModule().readFile(path, 'utf8');
      return { status: 200, headers: { 'content-length': String(size) }, body };
    },
    async stream(req: HttpRequest, handlers: StreamHandlers): Promise<void> {
      if (!isFile(req.url)) return network.stream(req, handlers);
      const path = fileURLToPath(req.url);
      const size = await sizeOf(path);
      if (size === null) {
        handlers.onResponse(404, {});
        return;
      }
      // As `ota serve` answers (server.ts): the span asked for, both ends, or 416 past the end.
      const range = parseRange(req.headers?.Range ?? req.headers?.range, size);
      if (range === 'unsatisfiable') {
        handlers.onResponse(416, { 'content-range': 'bytes */' + size });
        return;
      }
      const start = range ? range.start : 0;
      const end = range ? range.end + 1 : size;
      const headers: Record<string, string> = { 'content-length': String(end - start) };
      if (range) headers['content-range'] = 'bytes ' + start + '-' + (end - 1) + '/' + size;
      if (!handlers.onResponse(range ? 206 : 200, headers)) return;
      const f = await fsPromisesModule().open(path, 'r');
      try {
        const buffer = Buffer.alloc(PIECE);
        for (let at = start; at < end; ) {
          const { bytesRead } = await f.read(buffer, 0, Math.min(PIECE, end - at), at);
          if (bytesRead === 0) break;
          at += bytesRead;
          if ((await handlers.onData(buffer.subarray(0, bytesRead))) === false) return;
        }
      } finally {
        await f.close();
      }
    },
  };
}
