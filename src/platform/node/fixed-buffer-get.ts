/**
 * HTTP/1.1 on a bare socket whose body is read into one fixed buffer (the `onread` option of net
 * and tls sockets): image downloads, and the small check and report requests. Node's http client,
 * and so axios, allocates a new 64 KiB buffer for every socket read; V8 frees that garbage only
 * under external-memory pressure. Reading a 512 MiB image through axios peaked at 118 MiB of RSS
 * and took 1.86 s; through this reader, 75 MiB and 1.31 s (`npm run bench`). Not loading axios
 * (nor node:http) for the check keeps an up-to-date `ota device --once` near `node -e 0`: axios
 * alone costs ~80 ms of CPU and 18 MiB to load. Bodies framed by Content-Length, chunked, or by
 * the connection's end.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { parseWhole } from '../../text/numbers.js';
import type { OtaStage } from '../../errors.js';
import type { HttpRequest, StopSignal, StreamHandlers } from '../interfaces.js';
import { checkHop } from './url-guard.js';
import { tlsModule } from './lazy-modules.js';

export interface FixedBufferOptions {
  /** Certificate checks for https URLs (CA, pins); the system's CAs when empty. */
  tls: ConnectionOptions;
  /** Longest silence before `stalled()` is thrown. */
  idleMs: number;
  /** Plain HTTP to other machines is allowed (`allow_http`). */
  allowHttp: boolean;
  /** The stage named by a refused hop (`checkHop`). */
  stage: OtaStage;
  /** When true, `idleMs` bounds each exchange as a whole (small requests), not each silence. */
  whole?: boolean;
  stalled: () => Error;
}

const BUFFER_SIZE = 256 * 1024;
/**
 * The read buffer of a small exchange (`whole`: checks, reports): a 256 KiB one per exchange
 * outlived it in the malloc heap until V8's next full GC, which a download does not reach; a check
 * and two reports cost an update ~0.5 MiB of peak RSS that way (`npm run bench`, issue 20). A
 * 225 KB manifest (1 GiB in 64 KiB chunks) is 14 such reads.
 */
const SMALL_BUFFER_SIZE = 16 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;
const MAX_REDIRECTS = 5;

/** False when this reader should not take `req`: a proxy is configured for it. */
export function fixedBufferCanTake(req: HttpRequest): boolean {
  const scheme = req.url.slice(0, req.url.indexOf(':')).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return false;
  const env = process.env;
  return !(env[scheme + '_proxy'] || env[scheme.toUpperCase() + '_PROXY'] || env.all_proxy || env.ALL_PROXY);
}

/**
 * Performs the request, following up to 5 redirects (Authorization is dropped when one leaves the
 * origin; a POST answered with 301, 302 or 303 goes on as a GET without its body, as browsers
 * and axios do). Socket and TLS errors are thrown as Node gives them; a handler's throw as it
 * was. A piece handed to `onData` is valid until the call returns or its promise settles.
 */
export async function fixedBufferRequest(req: HttpRequest, handlers: StreamHandlers, options: FixedBufferOptions): Promise<void> {
  let url = new URL(req.url);
  let out: Outgoing = { method: req.method ?? 'GET', headers: Object.assign({}, req.headers), body: req.body };
  checkHop(url, null, options.allowHttp, options.stage);
  for (let redirects = 0; ; redirects++) {
    const r = await exchange(url, out, handlers, options, req.signal);
    if (r === 'done') return;
    if (redirects === MAX_REDIRECTS) throw new Error('more than ' + MAX_REDIRECTS + ' redirects');
    const next = new URL(r.location, url);
    checkHop(next, url, options.allowHttp, options.stage);
    const keep = (h: string) => !(next.origin !== url.origin && h === 'authorization') && !(r.asGet && (h === 'content-type' || h === 'content-length'));
    out = r.asGet ? { method: 'GET', headers: only(out.headers, keep), body: undefined } : { method: out.method, headers: only(out.headers, keep), body: out.body };
    url = next;
  }
}

/** What is sent: method, headers and body. */
interface Outgoing {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

function only(h: Record<string, string>, keep: (lowerName: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h)) if (keep(k.toLowerCase())) out[k] = h[k]!;
  return out;
}

function requestText(url: URL, out: Outgoing): string {
  let text = out.method + ' ' + url.pathname + url.search + ' HTTP/1.1\r\nHost: ' + url.host + '\r\nConnection: close\r\nAccept-Encoding: identity\r\n';
  if (out.body !== undefined) text += 'Content-Length: ' + Buffer.byteLength(out.body) + '\r\n';
  const headers = out.headers;
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    // As Node's http refuses them: a CR or LF would let a value inject headers.
    if (/[\r\n]/.test(name + value)) throw new Error('invalid character in header ' + JSON.stringify(name));
    text += name + ': ' + value + '\r\n';
  }
  return text + '\r\n';
}

/**
 * Decodes `Transfer-Encoding: chunked` as reads arrive: `feed` returns the data in a read, as
 * views of it; `done` once the last chunk was seen (trailers are not read: the connection closes).
 */
class ChunkedDecoder {
  done = false;
  private line = '';
  private left = -1; // data bytes left in this chunk; -1 while reading a size line, -2 for the CRLF after data

  feed(bytes: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < bytes.length && !this.done) {
      if (this.left > 0) {
        const n = Math.min(this.left, bytes.length - i);
        out.push(bytes.subarray(i, i + n));
        this.left -= n;
        i += n;
        if (this.left === 0) this.left = -2;
      } else {
        const c = bytes[i++]!;
        if (c !== 10) {
          if (this.line.length > 1024) throw new Error('malformed chunked body: line too long');
          this.line += String.fromCharCode(c);
          continue;
        }
        const text = this.line;
        this.line = '';
        if (this.left === -2) {
          if (text !== '\r') throw new Error('malformed chunked body: no line end after chunk data');
          this.left = -1;
          continue;
        }
        const m = CHUNK_LINE.exec(text);
        if (m === null || m[1]!.length > 12) throw new Error('malformed chunk size line ' + JSON.stringify(text.slice(0, 40)));
        const n = parseInt(m[1]!, 16);
        if (n === 0) this.done = true;
        else this.left = n;
      }
    }
    return out;
  }
}

interface Head {
  status: number;
  headers: Record<string, string>;
}

/** RFC 9110 token characters, for header names and chunk extensions. */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"';
/** A chunk size line up to its LF (RFC 9112 7.1): hex size, extensions, CR. */
const CHUNK_LINE = new RegExp('^([0-9A-Fa-f]+)(?:[ \\t]*;[ \\t]*' + TOKEN + '(?:[ \\t]*=[ \\t]*(?:' + TOKEN + '|' + QUOTED + '))?)*\\r$');
/** HTTP/1.0 or 1.1, one space, a three-digit code, an optional reason of visible characters. */
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const HEADER_NAME = new RegExp('^' + TOKEN + '$');
/** Characters a field value may hold: tab, visible ASCII, obs-text (RFC 9110 5.5). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const m = STATUS_LINE.exec(lines[0]!);
  if (!m) throw new Error('malformed HTTP status line ' + JSON.stringify(lines[0]!.slice(0, 80)));
  // No prototype: a header named "constructor" or "__proto__" is a header like any other.
  const headers: Record<string, string> = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // An obs-fold line (RFC 9112 5.2) would otherwise be read as a header of its own, which a
    // server or a proxy between may not have meant: refused, as llhttp does outside lenient mode.
    if (line.charAt(0) === ' ' || line.charAt(0) === '\t') throw new Error('folded HTTP header line (obs-fold) ' + JSON.stringify(line.slice(0, 80)));
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    const value = line.slice(colon + 1);
    if (!HEADER_NAME.test(name) || !HEADER_VALUE.test(value)) throw new Error('malformed HTTP header line ' + JSON.stringify(line.slice(0, 80)));
    const key = name.toLowerCase();
    const v = value.replace(/^[ \t]+|[ \t]+$/g, '');
    headers[key] = key in headers ? headers[key] + ', ' + v : v;
  }
  return { status: Number(m[1]), headers };
}

/** Where a redirect points, and whether the request goes on there as a GET. */
interface Redirect {
  location: string;
  asGet: boolean;
}

/** One request on one connection: its result, or where a redirect points. */
function exchange(url: URL, out: Outgoing, handlers: StreamHandlers, o: FixedBufferOptions, signal: StopSignal | undefined): Promise<'done' | Redirect> {
  return new Promise((resolve, reject) => new Exchange(url, out, handlers, o, signal, resolve, reject).start());
}

/**
 * The steps of one exchange, each called by the socket: connect and send, gather the head, frame
 * the body and hand it on, and settle once (`finish`) on whichever comes first of the end of the
 * body, an error, the idle timer or the stop signal.
 */
class Exchange {
  private readonly buffer: Buffer;
  /** The head's reads so far (copies); null once the head is parsed. */
  private head: Buffer[] | null = [];
  private headBytes = 0;
  /** Body bytes announced; -1 until the end of the connection. */
  private length = -1;
  private delivered = 0;
  private chunked: ChunkedDecoder | null = null;
  private settled = false;
  private socket: Socket | null = null;
  /** True while the handler holds a piece: the idle timeout measures the network only. */
  private handling = false;
  private readonly request: string;
  private readonly timer: NodeJS.Timeout;
  // Bound once: they are handed to the socket, the signal and every handler promise.
  private readonly stop = () => this.finish(new Error('stopped'));
  private readonly onAfter = (more: void | boolean) => this.after(more);
  private readonly onFail = (e: unknown) => {
    this.handling = false;
    this.finish(e);
  };

  constructor(
    private readonly url: URL,
    private readonly out: Outgoing,
    private readonly handlers: StreamHandlers,
    private readonly o: FixedBufferOptions,
    private readonly signal: StopSignal | undefined,
    private readonly resolve: (result: 'done' | Redirect) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    // Before the timer: a header that cannot be sent rejects the exchange with nothing to clean up.
    this.request = requestText(url, out) + (out.body ?? '');
    this.buffer = Buffer.allocUnsafe(o.whole ? SMALL_BUFFER_SIZE : BUFFER_SIZE);
    this.timer = setTimeout(() => (this.handling ? this.timer.refresh() : this.finish(o.stalled())), o.idleMs);
  }

  /** Opens the connection and sends the request once it is up (after the TLS handshake for https). */
  start(): void {
    const { url, o, signal } = this;
    if (signal) {
      if (signal.aborted) return this.stop();
      signal.addEventListener('abort', this.stop);
    }
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const onread = { buffer: this.buffer, callback: (n: number, buf: Buffer) => this.onRead(n, buf) };
    const send = () => this.socket!.write(this.request);
    let socket: Socket;
    try {
      socket = url.protocol === 'https:' ? tlsModule().connect(Object.assign({}, o.tls, { host, port, servername: isIP(host) ? undefined : host, onread }), send) : netConnect({ host, port, onread }, send);
    } catch (e) {
      this.finish(e);
      return;
    }
    this.socket = socket;
    socket.on('error', (e) => this.finish(e));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.finish(new Error('connection closed')));
  }

  /** Settles the exchange once and releases the socket, timer and signal. */
  private finish(e: unknown, result?: 'done' | Redirect): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.signal) this.signal.removeEventListener('abort', this.stop);
    this.socket?.destroy();
    if (e === null) this.resolve(result!);
    else this.reject(e);
  }

  /** A read into the fixed buffer: head bytes first, then body. False pauses the socket. */
  private onRead(n: number, buf: Buffer): boolean {
    if (this.settled) return false;
    if (!this.o.whole) this.timer.refresh();
    let piece = buf.subarray(0, n);
    try {
      if (this.head !== null) {
        const rest = this.headerBytes(piece);
        if (rest === null || rest.length === 0) return !this.settled;
        piece = rest;
      }
      return this.body(piece);
    } catch (e) {
      this.finish(e);
      return false;
    }
  }

  /**
   * Gathers the response head; returns the body bytes that came with it, or null. Interim
   * (1xx) responses are skipped: the final response follows on the same connection.
   */
  private headerBytes(piece: Buffer): Buffer | null {
    this.head!.push(Buffer.from(piece)); // copied: the read buffer is reused
    this.headBytes += piece.length;
    let all = Buffer.concat(this.head!);
    let h: Head;
    let end: number;
    for (;;) {
      // Empty lines before a status line are skipped, as llhttp does.
      let start = 0;
      while (all[start] === 13 && all[start + 1] === 10) start += 2;
      end = all.indexOf('\r\n\r\n', start);
      if (end < 0) {
        if (this.headBytes > MAX_HEADER_BYTES) throw new Error('HTTP response head longer than ' + MAX_HEADER_BYTES + ' bytes');
        this.head = [all];
        return null;
      }
      h = parseHead(all.toString('latin1', start, end));
      if (h.status >= 200) break;
      if (h.status === 101) throw new Error('unexpected 101 Switching Protocols in answer to a ' + this.out.method);
      all = all.subarray(end + 4);
    }
    this.head = null;
    if (!this.response(h)) return null;
    // Past the head: these bytes are a view of the read buffer again, not the copy.
    return piece.subarray(piece.length - (all.length - end - 4));
  }

  /** Acts on the final head: a redirect, or the body's framing and the handler's go-ahead. False when no body is read. */
  private response(h: Head): boolean {
    const method = this.out.method;
    if (h.status >= 300 && h.status < 400 && h.headers.location) {
      this.finish(null, { location: h.headers.location, asGet: h.status === 303 ? method !== 'HEAD' : (h.status === 301 || h.status === 302) && method === 'POST' });
      return false;
    }
    const te = (h.headers['transfer-encoding'] ?? 'identity').toLowerCase();
    if (te === 'chunked') this.chunked = new ChunkedDecoder();
    else if (te !== 'identity') throw new Error('unsupported Transfer-Encoding ' + JSON.stringify(te));
    else if (h.headers['content-length'] !== undefined) {
      this.length = parseWhole(h.headers['content-length']);
      if (this.length < 0) throw new Error('malformed Content-Length ' + JSON.stringify(h.headers['content-length']));
    }
    if (h.status === 204 || h.status === 304 || method === 'HEAD') this.length = 0;
    if (!this.handlers.onResponse(h.status, h.headers) || this.length === 0) {
      this.finish(null, 'done');
      return false;
    }
    return true;
  }

  /** True once the whole body was delivered (by its framing; a body read to the end of the connection never is). */
  private ended(): boolean {
    return this.chunked !== null ? this.chunked.done : this.delivered === this.length;
  }

  /** Hands body bytes to the handler; false pauses the socket until its promise settles. */
  private body(read: Buffer): boolean {
    let piece = read;
    if (this.chunked !== null) {
      // The data of one read as one piece: copied only when it spans chunks.
      const parts = this.chunked.feed(read);
      piece = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    } else if (this.length >= 0) piece = read.subarray(0, Math.min(read.length, this.length - this.delivered));
    if (piece.length === 0) {
      if (this.ended()) this.finish(null, 'done');
      return !this.settled;
    }
    this.delivered += piece.length;
    let more: ReturnType<StreamHandlers['onData']>;
    try {
      more = this.handlers.onData(piece);
    } catch (e) {
      this.finish(e);
      return false;
    }
    if (more instanceof Promise) {
      this.handling = true;
      more.then(this.onAfter, this.onFail);
      return false;
    }
    this.after(more);
    return !this.settled;
  }

  /** After the handler took a piece: done, or reading on (the socket may be paused). */
  private after(more: void | boolean): void {
    this.handling = false;
    if (more === false || this.ended()) this.finish(null, 'done');
    else if (!this.settled) {
      if (!this.o.whole) this.timer.refresh();
      this.socket!.resume();
    }
  }

  /** The server ended the connection: complete only when the framing says the body is whole. */
  private onEnd(): void {
    if (this.head !== null) this.finish(new Error('connection closed before a complete HTTP response head'));
    else if (this.length >= 0 && this.delivered < this.length) this.finish(new Error('connection closed after ' + this.delivered + ' of ' + this.length + ' body bytes'));
    else if (this.chunked !== null && !this.chunked.done) this.finish(new Error('connection closed before the last chunk, after ' + this.delivered + ' body bytes'));
    else this.finish(null, 'done');
  }
}
