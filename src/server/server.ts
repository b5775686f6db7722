/**
 * `ota serve`: the development update server. Serves a release directory (manifests and images,
 * with byte ranges) and records the status reports devices send.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { bearerToken, deviceAllowed, type TokenTable } from './auth.js';
import { startConsole, type Console, type ConsoleOptions } from './console-api.js';
import { json } from './json-response.js';
import { isSafeId } from './release-store.js';
import { parseRange } from '../platform/node/byte-range.js';

/** A status report as the server recorded it. */
export interface RecordedReport {
  device: string;
  received: string;
  report: unknown;
}

/** A running update server. */
export interface UpdateServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`: the devices' `ota_domain`. */
  url: string;
  /** Reports received so far, oldest first. */
  reports: RecordedReport[];
  close(): Promise<void>;
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  dir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Called for each request and report, for the console. */
  log?: (line: string) => void;
  /** Serve HTTPS with this certificate and key (PEM text). */
  tls?: { cert: string; key: string };
  /** Device and group tokens: a device whose id or group is listed must send its token to report. */
  deviceTokens?: TokenTable;
  /** Serve the web console under /console/ (docs/console.md). */
  console?: Omit<ConsoleOptions, 'dir' | 'log'>;
}

const MAX_REPORT_BYTES = 64 * 1024;
const STATUS_PREFIX = '/v1/ota/device/status/';
const CHECK = /^\/v1\/ota\/(device|group)\/latest\/([^/]+)$/;

/** A header's single value ('' when absent), as devices send `X-OTA-Device` and `X-OTA-Version` with checks. */
function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return typeof v === 'string' ? v.slice(0, 128) : '';
}

/** A check of the native protocol tells the console who asked and what it runs (docs/protocol.md). */
function recordCheckIn(req: IncomingMessage, path: string, tokens: TokenTable, console_: Console): void {
  const m = CHECK.exec(path);
  if (!m) return;
  const device = m[1] === 'device' ? m[2]! : header(req, 'x-ota-device');
  const group = m[1] === 'group' ? m[2]! : '';
  if (!isSafeId(device) || !deviceAllowed(tokens, device, group, bearerToken(req.headers.authorization))) return;
  console_.checkIn(device, group, header(req, 'x-ota-version'));
}

/** Hears how far a response got: bytes of the file up to the last one sent, and its size. */
type OnSent = (upTo: number, size: number) => void;

async function serveFile(req: IncomingMessage, res: ServerResponse, file: string, contentType: string, onSent?: OnSent): Promise<boolean> {
  const st = await stat(file).catch(() => null);
  if (st === null || !st.isFile()) return false;
  const range = parseRange(req.headers.range, st.size);
  const headers: Record<string, string | number> = { 'Content-Type': contentType, 'Accept-Ranges': 'bytes', 'Last-Modified': st.mtime.toUTCString() };
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': 'bytes */' + st.size });
    res.end();
    return true;
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : st.size - 1;
  headers['Content-Length'] = end - start + 1;
  if (range) headers['Content-Range'] = 'bytes ' + start + '-' + end + '/' + st.size;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || st.size === 0) {
    res.end();
    return true;
  }
  // 1 MiB reads: with the default 64 KiB the server spent ~40% more CPU per image.
  const stream = createReadStream(file, { start, end, highWaterMark: 1024 * 1024 });
  stream.on('error', () => res.destroy());
  if (onSent) {
    let upTo = start;
    stream.on('data', (piece) => onSent((upTo += piece.length), st.size));
  }
  stream.pipe(res);
  return true;
}

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_REPORT_BYTES) {
        resolve(null);
        req.destroy();
      } else parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

const IOTAAP_DOWNLOAD = /^\/v1\/ota\/(device|group)\/download\/([^/]+)$/;

/**
 * IoTaaP's download endpoint, `/v1/ota/{device|group}/download/{id}{token}`: the image of the
 * latest release of the longest published id that starts the path (tokens are not checked by
 * this development server). Undefined when `path` is not such a request; null when none matches.
 */
async function iotaapDownload(root: string, path: string): Promise<string | null | undefined> {
  const m = IOTAAP_DOWNLOAD.exec(path);
  if (!m) return undefined;
  const dir = join(root, 'v1/ota', m[1]!, 'latest');
  const ids = (await readdir(dir).catch(() => [] as string[])).filter((id) => m[2]!.startsWith(id) && isSafeId(id));
  const id = ids.sort((a, b) => b.length - a.length)[0];
  if (id === undefined) return null;
  const manifest = JSON.parse(await readFile(join(dir, id), 'utf8')) as { url?: string };
  return typeof manifest.url === 'string' && manifest.url.startsWith('firmware/') ? join(root, manifest.url) : null;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<UpdateServer> {
  // Absolute and without a trailing separator, so that `--dir rel/` confines paths as `--dir /abs` does.
  const root = resolve(options.dir);
  const log = options.log ?? (() => undefined);
  const reports: RecordedReport[] = [];
  const tokens: TokenTable = options.deviceTokens ?? {};
  let console_: Console | null = null;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method === 'POST' && path.startsWith(STATUS_PREFIX)) {
      const device = path.slice(STATUS_PREFIX.length);
      const body = await readBody(req);
      let report: unknown;
      try {
        report = body === null ? undefined : JSON.parse(body);
      } catch {
        report = undefined;
      }
      if (!isSafeId(device) || typeof report !== 'object' || report === null || Array.isArray(report)) return json(res, 400, { error: 'expected a JSON report for a device id' });
      const group = (report as { group_id?: unknown }).group_id;
      if (!deviceAllowed(tokens, device, typeof group === 'string' ? group : '', bearerToken(req.headers.authorization))) {
        log('report for ' + device + ' refused: missing or wrong device token');
        return json(res, 401, { error: 'this device reports with its token (Authorization: Bearer …)' });
      }
      reports.push({ device, received: new Date().toISOString(), report });
      if (console_) console_.report(device, report as { [key: string]: unknown });
      log('report from ' + device + ': ' + JSON.stringify(report));
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && path.startsWith(STATUS_PREFIX)) {
      const device = path.slice(STATUS_PREFIX.length);
      return json(res, 200, reports.filter((r) => r.device === device).map((r) => r.report));
    }
    if (console_ && (await console_.handle(req, res, path))) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    const iotaap = await iotaapDownload(root, path);
    if (iotaap !== undefined) {
      if (iotaap === null || !(await serveFile(req, res, iotaap, 'application/octet-stream'))) json(res, 404, { error: 'no firmware for this id' });
      log(req.method + ' ' + path.slice(0, path.lastIndexOf('/') + 1) + '… -> ' + res.statusCode);
      return;
    }
    const file = join(root, path);
    // Dot names (the console's state, temporary files) are never served.
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep) || path.includes('/.')) return json(res, 404, { error: 'not found' });
    if (console_) recordCheckIn(req, path, tokens, console_);
    const isManifest = path.includes('/latest/');
    const served = await serveFile(req, res, file, isManifest ? 'application/json' : 'application/octet-stream', isManifest ? undefined : downloadProgress(req));
    if (!served) json(res, 404, { error: isManifest ? 'no firmware published for this id' : 'not found' });
    log(req.method + ' ' + path + (req.headers.range ? ' ' + req.headers.range : '') + ' -> ' + res.statusCode);
  };

  /** A native device's image download (it names itself in `X-OTA-Device`) as progress in the console. */
  const downloadProgress = (req: IncomingMessage): OnSent | undefined => {
    const device = header(req, 'x-ota-device');
    if (console_ === null || !isSafeId(device) || !deviceAllowed(tokens, device, '', bearerToken(req.headers.authorization))) return undefined;
    const c = console_;
    return (upTo, size) => c.progress(device, upTo, size);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: String(e) });
      else res.destroy();
    });
  };
  const server = options.tls ? createHttpsServer(options.tls, onRequest) : createServer(onRequest);
  if (options.console) console_ = await startConsole(Object.assign({ dir: root, log }, options.console));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const addr = server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? '[' + addr.address + ']' : addr.address;
      resolve({
        url: (options.tls ? 'https://' : 'http://') + host + ':' + addr.port,
        reports,
        close: async () => {
          if (console_) await console_.close();
          await new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
        },
      });
    });
  });
}
