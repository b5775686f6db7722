/**
 * The Node transport's image reads (src/platform/node/fixed-buffer-get.ts) over real sockets: the three
 * body framings, backpressure, redirects, malformed replies, and axios taking over behind a proxy.
 * The downloader's fault tests (test/downloader.test.ts) run through the same reader.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isOtaError } from '../src/errors.js';
import { nodeTransport } from '../src/platform/node/transport.js';
import type { HttpRequest } from '../src/platform/interfaces.js';
import { fileTransport } from '../src/platform/node/file-transport.js';
import { startServer } from '../src/server/server.js';
import { image, listenLocal, onCleanup, tempDir } from './helpers/fixtures.js';

/** A TCP server that answers each request with `reply(socket, requestHead)`. */
function rawServer(reply: (socket: Socket, head: string) => void): Promise<string> {
  return listenLocal(
    createServer((socket) => {
      let head = '';
      socket.on('error', () => undefined);
      socket.on('data', (d) => {
        if (head.endsWith('\r\n\r\n')) return;
        head += d.toString('latin1');
        if (head.endsWith('\r\n\r\n')) reply(socket, head);
      });
    }),
  );
}

function httpServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  return listenLocal(createHttpServer(handle));
}

/** Writes `parts` one by one, each in its own TCP segment as far as timers can make it. */
async function writeSlowly(socket: Socket, parts: (string | Buffer)[]): Promise<void> {
  for (const p of parts) {
    socket.write(p);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Streams `req` and returns the status, headers and body received. */
async function fetchBody(req: HttpRequest, slowHandler = false, allowHttp = false) {
  const pieces: Buffer[] = [];
  let status = 0;
  let headers: Record<string, string> = {};
  let busy = false;
  await nodeTransport({}, allowHttp).stream(req, {
    onResponse(s, h) {
      status = s;
      headers = h;
      return true;
    },
    onData(piece) {
      expect(busy, 'a piece arrived while the previous one was still being handled').toBe(false);
      pieces.push(Buffer.from(piece)); // copied: the piece is only valid during the call
      if (!slowHandler) return;
      busy = true;
      return new Promise<void>((r) =>
        setTimeout(() => {
          busy = false;
          r();
        }, 3),
      );
    },
  });
  return { status, headers, body: Buffer.concat(pieces) };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

function split(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('Node transport: image reads', () => {
  const data = image(300_000, 5);

  it('reads a Content-Length body sent in many pieces, holding reads while a piece is handled', async () => {
    const url = await rawServer((s, head) => {
      expect(head).toContain('Range: bytes=7-\r\n');
      void writeSlowly(s, ['HTTP/1.1 206 Partial Content\r\nContent-Length: ' + data.length + '\r\nContent-Range: bytes 7-300006/300007\r\n\r\n', ...split(data, [1, 5000, 70_000, 123])]);
    });
    const r = await fetchBody({ url: url + '/img', headers: { Range: 'bytes=7-' } }, true);
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 7-300006/300007');
    expect(r.body.equals(data)).toBe(true);
  });

  it('takes header names that are also Object property names as plain headers', async () => {
    const url = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nConstructor: a\r\n__proto__: b\r\nContent-Length: 2\r\n\r\nok'));
    const r = await fetchBody({ url });
    expect([r.headers['constructor'], r.headers['__proto__'], r.body.toString()]).toEqual(['a', 'b', 'ok']);
  });

  it('stops at Content-Length when the server sends more', async () => {
    const url = await rawServer((s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'), data.subarray(0, 5000)])));
    expect((await fetchBody({ url })).body.equals(data.subarray(0, 1000))).toBe(true);
  });

  it('decodes a chunked body whose chunks and reads fall anywhere', async () => {
    const url = await rawServer((s) => {
      const chunks = split(data, [10_000, 1, 77_777]);
      const wire = Buffer.concat([
        Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'),
        ...chunks.flatMap((c, i) => [Buffer.from(c.length.toString(16) + (i === 1 ? ';ext=1' : '') + '\r\n'), c, Buffer.from('\r\n')]),
        Buffer.from('0\r\nX-Trailer: 1\r\n\r\n'),
      ]);
      void writeSlowly(s, split(wire, [3, 40_000, 1, 2, 9000]));
    });
    expect((await fetchBody({ url }, true)).body.equals(data)).toBe(true);
  });

  it('reads a body that ends with the connection', async () => {
    const url = await rawServer((s) => s.end(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), data])));
    expect((await fetchBody({ url })).body.equals(data)).toBe(true);
  });

  it('follows redirects, dropping Authorization when one leaves the origin', async () => {
    const seen: (string | undefined)[] = [];
    const other = await httpServer((req, res) => {
      seen.push('other ' + req.headers.authorization);
      res.writeHead(200, { 'Content-Length': 3 }).end('abc');
    });
    const url = await httpServer((req, res) => {
      seen.push(req.url + ' ' + req.headers.authorization);
      if (req.url === '/a') res.writeHead(302, { Location: '/b' }).end();
      else if (req.url === '/b') res.writeHead(307, { Location: other + '/c' }).end();
      else res.writeHead(301, { Location: '/loop' }).end();
    });
    const r = await fetchBody({ url: url + '/a', headers: { Authorization: 'Bearer t' } });
    expect(r.body.toString()).toBe('abc');
    expect(seen).toEqual(['/a Bearer t', '/b Bearer t', 'other undefined']);
    const e = await failure(fetchBody({ url: url + '/loop' }));
    expect(isOtaError(e) && e.code === 'NETWORK' && e.message).toContain('more than 5 redirects');
  });

  it('fails with a NETWORK error naming what was wrong with a reply', async () => {
    const replies: [string | Buffer, string][] = [
      ['SPDY/9 200 OK\r\n\r\n', 'malformed HTTP status line'],
      ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'malformed HTTP header line'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n', 'malformed Content-Length'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 'unsupported Transfer-Encoding'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'malformed chunk size'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', 'connection closed before the last chunk, after 3 body bytes'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 'connection closed after 3 of 10 body bytes'],
      ['HTTP/1.1 200 OK\r\nX: ' + 'y'.repeat(70_000), 'HTTP response head longer than 65536 bytes'],
      ['HTTP/1.1 200', 'connection closed before a complete HTTP response head'],
    ];
    for (const [reply, message] of replies) {
      const url = await rawServer((s) => s.end(reply));
      const e = await failure(fetchBody({ url }));
      expect(isOtaError(e) && e.code === 'NETWORK' && e.retryable, String(e)).toBe(true);
      expect(e.message).toContain(message);
    }
  });

  it('takes an idle timeout past 24.8 days as a long one, not as none (issue 13: "30d")', async () => {
    const url = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n');
      setTimeout(() => s.end('abc'), 50);
    });
    expect((await fetchBody({ url, timeoutMs: 30 * 86400 * 1000 })).body.toString()).toBe('abc');
  });

  it('refuses a header value that would inject another header', async () => {
    const url = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const e = await failure(fetchBody({ url, headers: { Authorization: 'Bearer x\r\nX-Evil: 1' } }));
    expect(e.message).toContain('invalid character in header "Authorization"');
  });

  it('leaves the read to axios when a proxy is configured, and the proxy gets it', async () => {
    const proxied: string[] = [];
    const proxy = await httpServer((req, res) => {
      proxied.push(req.method + ' ' + req.url);
      res.writeHead(200, { 'Content-Length': 5 }).end('proxy');
    });
    const saved = process.env.http_proxy;
    process.env.http_proxy = proxy;
    try {
      const r = await fetchBody({ url: 'http://updates.invalid/img' }, false, true);
      expect(r.body.toString()).toBe('proxy');
      expect(proxied).toEqual(['GET http://updates.invalid/img']);
    } finally {
      if (saved === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved;
    }
  });
});

describe('Node transport: small requests', () => {
  it('sends a POST with its body, follows a 303 with a GET without it, and reads the answer whole', async () => {
    const seen: string[] = [];
    const url = await httpServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push(req.method + ' ' + req.url + ' ' + (req.headers['content-length'] ?? '-') + ' ' + (req.headers['content-type'] ?? '-') + ' ' + body);
        if (req.url === '/report') res.writeHead(303, { Location: '/done' }).end();
        else res.writeHead(200, { 'Content-Type': 'application/json', 'X-Twice': ['a', 'b'] }).end('{"ok":"é"}');
      });
    });
    const r = await nodeTransport().request({ url: url + '/report', method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"v":"é"}' });
    expect(seen).toEqual(['POST /report 10 application/json {"v":"é"}', 'GET /done - - ']);
    expect(r.status).toBe(200);
    expect(r.body).toBe('{"ok":"é"}');
    expect(r.headers['x-twice']).toBe('a, b');
  });

  it('bounds the whole exchange by its timeout, and refuses an answer over 1 MiB', async () => {
    const slow = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('x')), 50);
    });
    const e = await failure(nodeTransport().request({ url: slow, timeoutMs: 300 }));
    expect(isOtaError(e) && e.code === 'NETWORK' && e.retryable).toBe(true);
    expect(e.message).toContain('no complete answer within 0.3 s');
    const big = await rawServer((s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n'), Buffer.alloc(1048577, 32)])));
    const e2 = await failure(nodeTransport().request({ url: big }));
    expect(e2.message).toContain('the answer is larger than 1048576 bytes');
  });
});

describe('file:// URLs (ota device install)', () => {
  it('answer each Range header as `ota serve` answers it: both ends, suffixes, 416 past the end', async () => {
    const dir = tempDir();
    const data = image(200_000, 41);
    mkdirSync(join(dir, 'firmware'));
    const file = join(dir, 'firmware', 'img.bin');
    writeFileSync(file, data);
    const server = await startServer({ dir, port: 0 });
    onCleanup(() => server.close());
    const files = fileTransport(nodeTransport());
    for (const range of [undefined, 'bytes=0-99', 'bytes=70000-140000', 'bytes=100-', 'bytes=5-5', 'bytes=-10', 'bytes=0-999999', 'bytes=200000-', 'bytes=9-3', 'bytes=0-1,5-6']) {
      const headers: Record<string, string> = range === undefined ? {} : { Range: range };
      const served = await fetch(server.url + '/firmware/img.bin', { headers });
      const expected = { status: served.status, range: served.headers.get('content-range'), body: Buffer.from(await served.arrayBuffer()) };
      const got = { status: 0, range: null as string | null, body: Buffer.alloc(0) };
      const pieces: Buffer[] = [];
      await files.stream(
        { url: pathToFileURL(file).href, method: 'GET', headers, timeoutMs: 5000 },
        {
          onResponse(status, h) {
            got.status = status;
            got.range = h['content-range'] ?? null;
            return true;
          },
          onData(piece) {
            pieces.push(Buffer.from(piece));
            return true;
          },
        },
      );
      got.body = Buffer.concat(pieces);
      expect({ ...got, body: got.body.length }, String(range)).toEqual({ ...expected, body: expected.body.length });
      expect(got.body.equals(expected.body), String(range)).toBe(true);
    }
  });
});
