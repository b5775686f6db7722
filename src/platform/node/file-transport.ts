/**
 * `file://` URLs answered like an HTTP server with byte ranges, so that a release on a local disk
 * (`ota device install FILE`) goes through the same downloader, checks and resume as one on a
 * server. Every other URL goes to the network transport.
 */
import { fileURLToPath } from 'node:url';
import { otaError } from '../../errors.js';
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

/** The first byte a `Range: bytes=N-` header asks for; 0 without one. */
function rangeStart(headers: Record<string, string> | undefined): number {
  const range = headers?.Range ?? headers?.range;
  if (range === undefined || range.indexOf('bytes=') !== 0) return 0;
  const n = parseInt(range.slice(6), 10);
  return isNaN(n) ? 0 : n;
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
      const start = Math.min(rangeStart(req.headers), size);
      const ranged = req.headers?.Range !== undefined || req.headers?.range !== undefined;
      const headers: Record<string, string> = { 'content-length': String(size - start) };
      if (ranged) headers['content-range'] = 'bytes ' + start + '-' + (size - 1) + '/' + size;
      if (!handlers.onResponse(ranged ? 206 : 200, headers)) return;
      const f = await fsPromisesModule().open(path, 'r');
      try {
        const buffer = Buffer.alloc(PIECE);
        for (let at = start; at < size; ) {
          const { bytesRead } = await f.read(buffer, 0, Math.min(PIECE, size - at), at);
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
