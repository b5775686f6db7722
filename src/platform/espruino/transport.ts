/**
 * HTTP for Espruino on `require("http")`: status codes arrive as strings, body pieces as binary
 * strings, header names in their original case; there is no timeout (one is added here) and a
 * refused connection throws from `req.end()`.
 */
import { otaError, type OtaStage } from '../../errors.js';
import type { HttpRequest, HttpResponse, StreamHandlers, Transport } from '../interfaces.js';

function parseUrl(url: string): { protocol: string; host: string; port?: number; path: string } {
  const scheme = url.indexOf('://');
  const rest = url.slice(scheme + 3);
  const slash = rest.indexOf('/');
  const hostPort = slash < 0 ? rest : rest.slice(0, slash);
  const colon = hostPort.lastIndexOf(':');
  return {
    protocol: url.slice(0, scheme + 1),
    host: colon < 0 ? hostPort : hostPort.slice(0, colon),
    port: colon < 0 ? undefined : parseInt(hostPort.slice(colon + 1), 10),
    path: slash < 0 ? '/' : rest.slice(slash),
  };
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h)) out[k.toLowerCase()] = String(h[k]);
  return out;
}

interface Exchange {
  onResponse(status: number, headers: Record<string, string>): boolean;
  onData(piece: Uint8Array): void | boolean | Promise<void | boolean>;
}

/** The text of whatever a board callback threw or reported. */
function reason(e: unknown): string {
  return String((e as { message?: string }).message || e);
}

/**
 * One request; resolves when the response ended (or was stopped), rejects on any failure, and
 * always settles. When the board runs out of memory it stops whatever code is running and may drop
 * queued callbacks (a socket's `data`, `end` or `close`, a promise's link), so no single callback
 * is trusted to come: one interval, armed before the request and cleared only when the exchange
 * settles, fails it once nothing has happened for `timeoutMs`. A piece counts as something when it
 * arrives and again when its handler is done, so a slow handler keeps the exchange alive but one
 * that never finishes (its promise lost) does not.
 */
function exchange(http: EspruinoHttp, req: HttpRequest, x: Exchange, stage: OtaStage): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = parseUrl(req.url);
    const limit = req.timeoutMs || 30000;
    let settled = false;
    let answered = false;
    let stopped = false;
    let last = Date.now();
    let chain: Promise<unknown> = Promise.resolve();
    // A rejection may carry `undefined` (code cut short on the board): failure is said apart.
    const settle = (ok: boolean, error?: unknown) => {
      if (settled) return;
      settled = true;
      // clearInterval(undefined) throws on the board: the interval may not have been allocated.
      if (ticker !== undefined) clearInterval(ticker);
      // The stop signal lives as long as the check: its listener would keep this exchange's
      // handlers (a download's whole downloader) referenced through the install (issue 17).
      if (req.signal) req.signal.removeEventListener('abort', stop);
      if (ok) resolve();
      else reject(error);
    };
    const fail = (why: string) =>
      settle(false, otaError('NETWORK', stage, (req.method || 'GET') + ' ' + req.url + ' failed: ' + why, { retryable: true }));
    const ticker = setInterval(() => {
      if (Date.now() - last >= limit) fail((answered ? 'no data for ' : 'no answer for ') + limit / 1000 + ' s');
    }, Math.min(limit, 1000));
    const stop = () => fail('stopped');
    if (req.signal) req.signal.addEventListener('abort', stop);
    const headers = Object.assign({}, req.headers);
    // Without a length the board sends the body unframed and servers see none.
    if (req.body) headers['Content-Length'] = String(req.body.length);
    try {
      const r = http.request(
        { host: u.host, port: u.port, path: u.path, method: req.method || 'GET', protocol: u.protocol, headers },
        (res) => {
          if (settled) return;
          answered = true;
          last = Date.now();
          let go: boolean;
          try {
            go = x.onResponse(parseInt(res.statusCode, 10), lower(res.headers));
          } catch (e) {
            return settle(false, e);
          }
          res.on('data', (chunk) => {
            last = Date.now();
            if (settled || stopped || !go) return;
            try {
              const piece = E.toUint8Array(chunk);
              // Pieces are handled in order; the board cannot pause the socket, so they queue here.
              chain = chain.then(() => (stopped ? false : x.onData(piece))).then(
                (more) => {
                  last = Date.now();
                  if (more === false) stopped = true;
                },
                (e) => {
                  stopped = true;
                  settle(false, e);
                },
              );
            } catch (e) {
              stopped = true;
              settle(false, e);
            }
          });
          // The board sends `end` once the body is complete, then `close`; either may be lost.
          const ended = () => {
            chain.then(() => settle(true));
          };
          res.on('end', ended);
          res.on('close', ended);
          res.on('error', (e) => fail(reason(e)));
        },
      );
      r.on('error', (e) => fail(reason(e)));
      if (req.body) r.write(req.body);
      r.end();
    } catch (e) {
      // A refused or unresolvable host throws from end() on the board.
      fail(reason(e));
    }
  });
}

/** The Espruino transport, on the board's `require("http")` (tests give a stand-in). */
export function espruinoTransport(http: EspruinoHttp = require('http')): Transport {
  return {
    request(req) {
      let status = 0;
      let headers: Record<string, string> = {};
      let body = '';
      return exchange(
        http,
        req,
        {
          onResponse(s, h) {
            status = s;
            headers = h;
            return true;
          },
          onData(piece) {
            body += E.toString(piece);
          },
        },
        'check',
      ).then((): HttpResponse => ({ status, headers, body }));
    },
    stream(req, handlers: StreamHandlers) {
      return exchange(http, req, handlers, 'download');
    },
  };
}
