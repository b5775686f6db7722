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

/** One request; resolves when the response ended (or was stopped). */
function exchange(req: HttpRequest, x: Exchange, stage: OtaStage): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = parseUrl(req.url);
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(otaError('NETWORK', stage, (req.method || 'GET') + ' ' + req.url + ' failed: ' + why, { retryable: true }));
    };
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => fail('no answer for ' + (req.timeoutMs || 30000) / 1000 + ' s'), req.timeoutMs || 30000);
    let done = false;
    let chain: Promise<unknown> = Promise.resolve();
    /** Pieces queued or being handled: the idle timeout measures the network, not the handler. */
    let busy = 0;
    const idle = (why: string) => () => {
      if (busy > 0) timer = setTimeout(idle(why), req.timeoutMs || 30000);
      else fail(why);
    };
    if (req.signal) req.signal.addEventListener('abort', () => fail('stopped'));
    const headers = Object.assign({}, req.headers);
    // Without a length the board sends the body unframed and servers see none.
    if (req.body) headers['Content-Length'] = String(req.body.length);
    const r = require('http').request(
      { host: u.host, port: u.port, path: u.path, method: req.method || 'GET', protocol: u.protocol, headers },
      (res) => {
        let go: boolean;
        try {
          go = x.onResponse(parseInt(res.statusCode, 10), lower(res.headers));
        } catch (e) {
          clearTimeout(timer);
          return reject(e);
        }
        res.on('data', (chunk) => {
          if (done || !go) return;
          clearTimeout(timer);
          timer = setTimeout(idle('no data for ' + (req.timeoutMs || 30000) / 1000 + ' s'), req.timeoutMs || 30000);
          const piece = E.toUint8Array(chunk);
          busy++;
          // Pieces are handled in order; the board cannot pause the socket, so they queue here.
          chain = chain.then(() => (done ? false : x.onData(piece))).then(
            (more) => {
              busy--;
              if (more === false) done = true;
            },
            (e) => {
              busy--;
              done = true;
              clearTimeout(timer);
              reject(e);
            },
          );
        });
        res.on('close', () => {
          chain.then(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      },
    );
    r.on('error', (e) => fail(String((e as { message?: string }).message || e)));
    try {
      if (req.body) r.write(req.body);
      r.end();
    } catch (e) {
      fail(String((e as { message?: string }).message || e));
    }
  });
}

/** The Espruino transport. */
export function espruinoTransport(): Transport {
  return {
    request(req) {
      let status = 0;
      let headers: Record<string, string> = {};
      let body = '';
      return exchange(
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
      return exchange(req, handlers, 'download');
    },
  };
}
