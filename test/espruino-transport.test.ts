/**
 * The Espruino transport on Node, against a real HTTP server on 127.0.0.1, through a stand-in for
 * the board's `require("http")` and `E`. What the stand-in does is transcribed from espruino/Espruino
 * libs/network/socketserver.c (socketServerConnectionsIdle, httpParseHeaders) and
 * libs/network/http/jswrap_http.c at 2v29.277: the status code is a string, headers keep their case,
 * body pieces are binary strings, `end` comes once the body is complete and `close` after it (after
 * `error` when the socket failed), and every callback runs from the board's event queue, where a
 * callback that throws is reported and the queue goes on. When the board runs out of memory it stops
 * the code running and may fail to queue a callback at all (jsiQueueObjectCallbacks allocates): the
 * `lose` option drops chosen callbacks, `throwIn` makes one throw, as a callback cut short does.
 */
import { createServer, request as nodeRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { espruinoTransport } from '../src/platform/espruino/transport.js';
import { stopController } from '../src/updater/stop-controller.js';

type Faults = { lose?: (event: string, n: number) => boolean; throwIn?: (event: string, n: number) => boolean };

/** The board's event queue: each callback runs on its own; one that throws is reported, not fatal. */
function boardQueue(reported: unknown[]) {
  return (fn: () => void) =>
    setImmediate(() => {
      try {
        fn();
      } catch (e) {
        reported.push(e);
      }
    });
}

/** `require("http")` of the board, over Node's client, with `faults` injected into its callbacks. */
function boardHttp(faults: Faults, reported: unknown[]): EspruinoHttp {
  const queue = boardQueue(reported);
  const counts: Record<string, number> = {};
  const emit = (target: EventEmitter, event: string, ...args: unknown[]) => {
    const n = (counts[event] = (counts[event] ?? 0) + 1);
    if (faults.lose && faults.lose(event, n)) return;
    queue(() => {
      if (faults.throwIn && faults.throwIn(event, n)) throw new Error('OUT OF MEMORY in ' + event);
      target.emit(event, ...args);
    });
  };
  return {
    request(o: { host: string; port?: number; path: string; method: string; headers: Record<string, string> }, cb: (res: EspruinoResponse) => void) {
      const req = new EventEmitter() as EventEmitter & { write(d: string): void; end(): void };
      let body = '';
      req.write = (d) => void (body += d);
      req.end = () => {
        const r = nodeRequest({ host: o.host, port: o.port, path: o.path, method: o.method, headers: o.headers }, (nres) => {
          const headers: Record<string, string> = {};
          for (let i = 0; i < nres.rawHeaders.length; i += 2) headers[nres.rawHeaders[i]!] = nres.rawHeaders[i + 1]!;
          const res = Object.assign(new EventEmitter(), { statusCode: String(nres.statusCode), headers });
          queue(() => cb(res as unknown as EspruinoResponse));
          nres.on('data', (b: Buffer) => emit(res, 'data', b.toString('latin1')));
          nres.on('end', () => {
            emit(res, 'end');
            emit(res, 'close', false);
          });
        });
        r.on('error', (e) => emit(req, 'error', e));
        r.end(body === '' ? undefined : Buffer.from(body, 'latin1'));
      };
      return req;
    },
  };
}

/** The board's `E`, and its `require("http")` with `faults`; `oom` makes `E.toUint8Array` run out of memory. */
function board(faults: Faults = {}, oom = false): EspruinoHttp {
  (globalThis as Record<string, unknown>).E = {
    toUint8Array(s: string) {
      if (oom) throw new Error('OUT OF MEMORY');
      return Uint8Array.from(Buffer.from(s, 'latin1'));
    },
    toString: (u: Uint8Array) => Buffer.from(u).toString('latin1'),
  };
  return boardHttp(faults, []);
}

let server: Server;
let base = '';
const held: { end(): void }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hold') return void held.push(res); // never answers
    const body = Buffer.alloc(3000, 'x');
    res.writeHead(200, { 'Content-Length': String(body.length), 'X-Mixed-Case': 'yes' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = 'http://127.0.0.1:' + (server.address() as AddressInfo).port;
});
afterEach(() => {
  delete (globalThis as Record<string, unknown>).E;
  for (const r of held.splice(0)) r.end();
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('Espruino transport: every exchange settles, also when memory ran out mid-request', () => {
  it('reads a whole answer (string status, header case, binary string pieces)', async () => {
    const http = board();
    const res = await espruinoTransport(http).request({ url: base + '/a', timeoutMs: 2000 });
    expect(res.status).toBe(200);
    expect(res.headers['x-mixed-case']).toBe('yes');
    expect(res.body.length).toBe(3000);
  });

  it('ends with `close` alone when the board lost `end`, and with `end` alone when it lost `close`', async () => {
    for (const lost of ['end', 'close']) {
      const http = board({ lose: (e) => e === lost });
      expect((await espruinoTransport(http).request({ url: base + '/a', timeoutMs: 2000 })).body.length).toBe(3000);
    }
  });

  it('fails, never ends short, when a piece could not be taken (the data callback was cut short)', async () => {
    // Before: the piece was skipped and the exchange resolved with part of the body.
    await expect(espruinoTransport(board({}, true)).request({ url: base + '/a', timeoutMs: 2000 })).rejects.toThrow('OUT OF MEMORY');
  });

  it('fails after its timeout when a piece handler never finishes (its promise lost), though the response closed', async () => {
    // Before: the pending handler kept re-arming the idle timer, so the stream never settled.
    const http = board();
    const started = Date.now();
    const stream = espruinoTransport(http).stream(
      { url: base + '/a', timeoutMs: 200 },
      { onResponse: () => true, onData: () => new Promise<void>(() => {}) },
    );
    await expect(stream).rejects.toMatchObject({ code: 'NETWORK', retryable: true });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('fails after its timeout when every callback of the response is lost', async () => {
    const http = board({ lose: (e) => e === 'data' || e === 'end' || e === 'close' });
    await expect(espruinoTransport(http).request({ url: base + '/a', timeoutMs: 200 })).rejects.toMatchObject({ code: 'NETWORK', message: expect.stringContaining('no data for 0.2 s') });
  });

  it('fails after its timeout when the server never answers a report', async () => {
    const http = board();
    const report = espruinoTransport(http).request({ url: base + '/hold', method: 'POST', body: '{"stage":"failed"}', timeoutMs: 200 });
    await expect(report).rejects.toMatchObject({ code: 'NETWORK', message: expect.stringContaining('no answer for 0.2 s') });
  });

  it('leaves no listener on the stop signal once an exchange settled', async () => {
    // Before: the listener stayed on the check's signal and kept the exchange's handlers (a
    // download's whole downloader) referenced until the check ended (issue 17).
    const { signal, stop } = stopController();
    let listeners = 0;
    const counted = {
      get aborted() {
        return signal.aborted;
      },
      addEventListener: (t: 'abort', fn: () => void) => void (listeners++, signal.addEventListener(t, fn)),
      removeEventListener: (t: 'abort', fn: () => void) => void (listeners--, signal.removeEventListener(t, fn)),
    };
    const http = board();
    await espruinoTransport(http).stream({ url: base + '/a', timeoutMs: 2000, signal: counted }, { onResponse: () => true, onData: () => {} });
    await expect(espruinoTransport(http).request({ url: 'http://127.0.0.1:1/x', timeoutMs: 5000, signal: counted })).rejects.toMatchObject({ code: 'NETWORK' });
    expect(listeners).toBe(0);
    stop();
  });

  it('fails at once when the connection fails', async () => {
    const http = board();
    await expect(espruinoTransport(http).request({ url: 'http://127.0.0.1:1/x', timeoutMs: 5000 })).rejects.toMatchObject({ code: 'NETWORK' });
  });
});
