/**
 * The image reader (src/platform/node/fixed-buffer-get.ts) against the response-parsing cases of
 * llhttp's test suite that apply to a client making one GET per connection. Read from
 * nodejs/llhttp at 9.4.2: test/response/{sample,invalid,content-length,transfer-encoding,
 * connection}.md. Each case below restates one of them in our own words and bytes; where this
 * reader deliberately differs from llhttp's strict mode, the case says why. Cases about
 * pipelining, pausing, llhttp_finish() and its lenient flags do not apply (one request per
 * connection, `Connection: close`, strict parsing only) and are left out.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isOtaError } from '../src/errors.js';
import { nodeTransport } from '../src/platform/node/transport.js';
import { listenLocal } from './helpers/fixtures.js';

interface Accepted {
  name: string;
  wire: string;
  status: number;
  body: string;
  /** Headers the application must see, lower-case names. */
  headers?: Record<string, string>;
}

interface Refused {
  name: string;
  wire: string;
  /** Part of the NETWORK error's message. */
  error: string;
}

const CRLF = '\r\n';
/** Lines joined with CRLF, as a server sends them. */
const lines = (...l: string[]) => l.join(CRLF);

const ACCEPTED: Accepted[] = [
  // sample.md
  { name: 'Content-Length 0, a value after a tab and a space', wire: lines('HTTP/1.1 200 OK', 'Header1: Value1', 'Header2:\t Value2', 'Content-Length: 0', '', ''), status: 200, body: '', headers: { header2: 'Value2' } },
  { name: 'no headers, body ended by the connection', wire: lines('HTTP/1.1 200 OK', '', ''), status: 200, body: '' },
  { name: 'Content-Length with spaces around it, a $ in a header name', wire: lines('HTTP/1.1 200 OK', 'X-$PrototypeBI-Version: 1.6.0.3', 'Content-Length:  5  ', '', 'abcde'), status: 200, body: 'abcde', headers: { 'x-$prototypebi-version': '1.6.0.3' } },
  { name: 'a chunked body holding one line feed', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '1', '\n', '0', '', ''), status: 200, body: '\n' },
  { name: 'a 404 without headers', wire: lines('HTTP/1.1 404 Not Found', '', ''), status: 404, body: '' },
  { name: 'no reason phrase', wire: lines('HTTP/1.1 200', 'Content-Length: 2', '', 'ok'), status: 200, body: 'ok' },
  { name: 'an empty reason phrase after the space', wire: lines('HTTP/1.1 200 ', 'Content-Length: 2', '', 'ok'), status: 200, body: 'ok' },
  { name: 'an underscore in a header name, a value full of ; and /', wire: lines('HTTP/1.1 200 OK', 'DCLK_imp: v7;x;114;0/0;~okv=;dcmt=text/xml', 'Content-Length: 0', '', ''), status: 200, body: '', headers: { dclk_imp: 'v7;x;114;0/0;~okv=;dcmt=text/xml' } },
  { name: 'an empty header value is not merged with the next header', wire: lines('HTTP/1.0 200 OK', 'Pragma: ', 'Location: http://example.invalid/', 'Content-Length: 0', '', ''), status: 200, body: '', headers: { pragma: '', location: 'http://example.invalid/' } },
  { name: 'header names starting with . or _', wire: lines('HTTP/1.1 200 OK', '.et-Cookie: a=1', '_eep-Alive: timeout=45', 'Transfer-Encoding: chunked', '', '0', '', ''), status: 200, body: '', headers: { '.et-cookie': 'a=1', '_eep-alive': 'timeout=45' } },
  { name: 'non-ASCII bytes in the reason phrase', wire: lines('HTTP/1.1 500 Ori\u00ebntatieprobleem', 'Content-Length: 0', '', ''), status: 500, body: '' },
  { name: 'neither Content-Length nor Transfer-Encoding: the body ends with the connection', wire: lines('HTTP/1.1 200 OK', 'Content-Type: text/plain', '', 'hello world'), status: 200, body: 'hello world' },
  { name: 'an empty line before the status line', wire: lines('', 'HTTP/1.1 200 OK', 'Content-Length: 2', '', 'ok'), status: 200, body: 'ok' },
  // invalid.md: two spaces between status code and reason are only part of the reason
  { name: 'two spaces before the reason phrase', wire: lines('HTTP/1.1 200  OK', 'Content-Length: 0', '', ''), status: 200, body: '' },
  // content-length.md
  { name: 'Connection: close and no Content-Length: the body ends with the connection', wire: lines('HTTP/1.1 200 OK', 'Connection: close', '', '<?xml version="1.0"?>\n<a/>'), status: 200, body: '<?xml version="1.0"?>\n<a/>' },
  { name: 'Content-Length-X is not Content-Length', wire: lines('HTTP/1.1 200 OK', 'Content-Length-X: 0', 'Transfer-Encoding: chunked', '', '2', 'OK', '0', '', ''), status: 200, body: 'OK' },
  { name: 'tabs around the Content-Length value', wire: lines('HTTP/1.1 200 OK', 'Content-Length:\t4\t', '', 'abcd'), status: 200, body: 'abcd' },
  // transfer-encoding.md
  { name: 'chunk extensions', wire: lines('HTTP/1.1 200 OK', 'Transfer-encoding: chunked', '', '5;ilovew3;somuchlove=aretheseparametersfor', 'hello', '6;blahblah;blah', ' world', '0', '', ''), status: 200, body: 'hello world' },
  { name: 'quoted chunk extensions holding ; and spaces', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '5;ilovew3="I love; extensions";somuchlove="x";blah;foo=bar', 'hello', '0', '', ''), status: 200, body: 'hello' },
  // connection.md
  { name: 'Proxy-Connection is just a header', wire: lines('HTTP/1.1 200 OK', 'Content-Length: 11', 'Proxy-Connection: close', '', 'hello world'), status: 200, body: 'hello world' },
  { name: 'HTTP/1.0 keep-alive without a length: the body ends with the connection', wire: lines('HTTP/1.0 200 OK', 'Connection: keep-alive', '', 'HTTP/1.0 200 OK'), status: 200, body: 'HTTP/1.0 200 OK' },
  { name: 'a 204 has no body, whatever follows', wire: lines('HTTP/1.1 204 No content', '', 'HTTP/1.1 200 OK'), status: 204, body: '' },
  { name: 'a 304 has no body, even with a Content-Length', wire: lines('HTTP/1.1 304 Not Modified', 'Content-Length: 10', '', 'HTTP/1.1 200 OK'), status: 304, body: '' },
  { name: 'a 304 has no body, even with Transfer-Encoding: chunked', wire: lines('HTTP/1.1 304 Not Modified', 'Transfer-Encoding: chunked', '', 'HTTP/1.1 200 OK'), status: 304, body: '' },
  { name: 'Upgrade on a 200 changes nothing', wire: lines('HTTP/1.1 200 OK', 'Connection: upgrade', 'Upgrade: h2c', 'Transfer-Encoding: chunked', '', '2', 'bo', '2', 'dy', '0', '', ''), status: 200, body: 'body' },
  // The two cases of issue 13: an interim (1xx) response is skipped, the final one is the answer.
  { name: 'a 100 Continue, then the final 404', wire: lines('HTTP/1.1 100 Continue', '', 'HTTP/1.1 404 Not Found', 'Content-Length: 14', '', '404: Not Found'), status: 404, body: '404: Not Found' },
  { name: 'a 103 Early Hints with a header, then the final 200', wire: lines('HTTP/1.1 103 Early Hints', 'Link: </styles.css>; rel=preload; as=style', '', 'HTTP/1.1 200 OK', 'Content-Length: 16', '', 'response content'), status: 200, body: 'response content', headers: { 'content-length': '16' } },
];

const REFUSED: Refused[] = [
  // sample.md
  { name: 'a protocol other than HTTP/', wire: lines('HTTPER/1.1 200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'line feeds without carriage returns', wire: 'HTTP/1.1 200 OK\nContent-Type: text/html\n\nbody', error: 'complete HTTP response head' },
  { name: 'a space inside a header name', wire: lines('HTTP/1.1 200 OK', 'en-US Content-Type: text/xml', 'Content-Length: 0', '', ''), error: 'malformed HTTP header line' },
  // llhttp accepts HTTP/0.9 and RTSP/ICE status lines; an HTTP/1.1 client asked for HTTP/1.x.
  { name: 'HTTP/0.9', wire: lines('HTTP/0.9 200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'RTSP', wire: lines('RTSP/1.1 200 OK', '', ''), error: 'malformed HTTP status line' },
  // invalid.md
  { name: 'HTP/', wire: lines('HTP/1.1 200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'two digits in the major version', wire: lines('HTTP/01.1 200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'a major version of 11', wire: lines('HTTP/11.1 200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'two digits in the minor version', wire: lines('HTTP/1.01 200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'a tab after the version', wire: lines('HTTP/1.1\t200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'a CR before the status line', wire: lines('\rHTTP/1.1 200 OK', '', ''), error: 'malformed HTTP' },
  { name: 'headers separated by a bare CR', wire: lines('HTTP/1.1 200 OK', 'Foo: 1\rBar: 2', '', ''), error: 'malformed HTTP header line' },
  { name: 'a bare CR after the status line', wire: lines('HTTP/1.1 200 OK\rContent-Length: 0', '', ''), error: 'malformed HTTP status line' },
  { name: 'two bare CRs smuggling a Content-Length', wire: lines('HTTP/1.1 200 OK\r\rContent-Length: 4', '', 'Evil'), error: 'malformed HTTP status line' },
  { name: 'HTTP/5.6', wire: lines('HTTP/5.6 200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'a header line starting with a space after the status line', wire: lines('HTTP/1.1 200 OK', ' Host: foo', '', ''), error: 'folded' },
  { name: 'two spaces between version and status code', wire: lines('HTTP/1.1  200 OK', '', ''), error: 'malformed HTTP status line' },
  { name: 'a one-digit status code', wire: lines('HTTP/1.1 2 OK', '', ''), error: 'malformed HTTP status line' },
  // transfer-encoding.md
  { name: 'spaces after a chunk size', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '5  ', 'hello', '0', '', ''), error: 'malformed chunk size' },
  { name: 'a chunk extension without a semicolon', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '2 erfrferferf', 'aa', '0', '', ''), error: 'malformed chunk size' },
  { name: 'a semicolon without an extension', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '2;', 'aa', '0', '', ''), error: 'malformed chunk size' },
  { name: 'an unbalanced quote in a chunk extension', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '5;a="abc";b="def; ghi', 'hello', '0', '', ''), error: 'malformed chunk size' },
  { name: 'an obs-fold continuing Transfer-Encoding', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '  abc', '', '5', 'World', '0', '', ''), error: 'folded' },
  // llhttp reads these bodies raw to the connection's end (chunked is not the last coding);
  // an image must arrive exactly as stored, so a coding this reader cannot undo is refused.
  { name: 'chunked before another coding', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked, deflate', '', 'World'), error: 'unsupported Transfer-Encoding' },
  { name: 'chunked, then identity, in two headers', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Transfer-Encoding: identity', '', 'World'), error: 'unsupported Transfer-Encoding' },
  { name: 'chunkedchunked', wire: lines('HTTP/1.1 200 OK', 'Transfer-Encoding: chunkedchunked', '', '2', 'OK', '0', '', ''), error: 'unsupported Transfer-Encoding' },
  // connection.md: a 101 this client never asked for is not a final answer to a GET.
  { name: 'a 101 Switching Protocols', wire: lines('HTTP/1.1 101 Switching Protocols', 'Connection: upgrade', 'Upgrade: h2c', 'Content-Length: 4', '', 'body'), error: 'unexpected 101' },
  // Folding of issue 13: a folded line must not turn into a header of its own.
  { name: 'an obs-fold line that looks like a header', wire: lines('HTTP/1.1 200 OK', 'X-Note: a', ' Authorization: injected', 'Content-Length: 0', '', ''), error: 'folded' },
];

/** A server that writes `wire` to every connection and closes it. */
async function replying(wire: string): Promise<string> {
  return listenLocal(
    createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(Buffer.from(wire, 'latin1')));
    }),
  );
}

async function get(url: string) {
  const pieces: Buffer[] = [];
  let status = 0;
  let headers: Record<string, string> = {};
  await nodeTransport().stream(
    { url },
    {
      onResponse(s, h) {
        status = s;
        headers = h;
        return true;
      },
      onData(piece) {
        pieces.push(Buffer.from(piece));
      },
    },
  );
  return { status, headers, body: Buffer.concat(pieces).toString('latin1') };
}

describe("HTTP responses from llhttp's test suite, read by the image reader", () => {
  for (const c of ACCEPTED) {
    it('reads ' + c.name, async () => {
      const r = await get(await replying(c.wire));
      expect(r.status).toBe(c.status);
      expect(r.body).toBe(c.body);
      for (const name of Object.keys(c.headers ?? {})) expect(r.headers[name], name).toBe(c.headers![name]);
    });
  }
  for (const c of REFUSED) {
    it('refuses ' + c.name, async () => {
      let error: unknown = null;
      try {
        await get(await replying(c.wire));
      } catch (e) {
        error = e;
      }
      expect(isOtaError(error) && error.code, String(error)).toBe('NETWORK');
      expect((error as Error).message).toContain(c.error);
    });
  }
});
