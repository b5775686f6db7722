/**
 * HTTP transport for Node: streamed bodies with backpressure and an idle timeout, and small
 * requests read whole. Both go over `fixed-buffer-get.ts`; axios (and node:https) only behind a
 * proxy, and are loaded then: axios costs ~80 ms of CPU and 18 MiB of RSS to load, more than the
 * rest of an up-to-date check.
 */
import type { AxiosRequestConfig, AxiosResponse, AxiosStatic } from 'axios';
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:https';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { isOtaError, otaError, type OtaStage } from '../../errors.js';
import { networkErrorText, type AddressSetting } from './system-error.js';
import type { HttpRequest, HttpResponse, StreamHandlers, Transport } from '../interfaces.js';
import { fixedBufferCanTake, fixedBufferRequest } from './fixed-buffer-get.js';
import { smallBody } from './small-body.js';
import { checkHop } from './url-guard.js';
import { cryptoModule, tlsModule } from './lazy-modules.js';
import { MAX_TIMER_MS } from '../../schedule/timer-clock.js';

const load = createRequire(import.meta.url);

/** Largest answer `request` reads. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

const DEFAULT_TIMEOUT_MS = 30000;

/** HTTPS settings. */
export interface TlsOptions {
  /** CA certificate file (PEM) to trust instead of the system's. */
  caFile?: string;
  /** Base64 SHA-256 pins of the server's public key (SPKI): any other key is refused. */
  pins?: string[];
  /** Client certificate and key files (PEM), for servers that authenticate devices by certificate (hawkBit behind a TLS proxy). */
  clientCert?: string;
  clientKey?: string;
}

const PIN_MISMATCH = 'ERR_OTA_PIN_MISMATCH';

/** CA and pin checks for a TLS connection; empty (the system's CAs) when none are configured. */
function tlsChecks(tls: TlsOptions): ConnectionOptions {
  const pins = tls.pins ?? [];
  if (!tls.caFile && pins.length === 0 && !tls.clientCert) return {};
  return {
    ca: tls.caFile ? readFileSync(tls.caFile) : undefined,
    cert: tls.clientCert ? readFileSync(tls.clientCert) : undefined,
    key: tls.clientKey ? readFileSync(tls.clientKey) : undefined,
    checkServerIdentity(host, cert) {
      const err = tlsModule().checkServerIdentity(host, cert);
      if (err || pins.length === 0) return err;
      // The pin is over the SubjectPublicKeyInfo (DER), as HPKP and `openssl pkey -pubin -outform der` give it.
      const { X509Certificate, createHash } = cryptoModule();
      const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' });
      const pin = createHash('sha256').update(spki).digest('base64');
      if (pins.indexOf(pin) >= 0) return undefined;
      const e = new Error('the server key of ' + host + ' (sha256/' + pin + ') matches no pin in pin_sha256') as Error & { code: string };
      e.code = PIN_MISMATCH;
      return e;
    },
  };
}

function lowerHeaders(h: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(h)) {
    const v = h[key];
    if (v !== undefined && v !== null) out[key.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/** Where a request's address was given: one setting for every URL, or told by the URL. */
export type AddressOf = AddressSetting | ((url: string) => AddressSetting);

function networkError(req: HttpRequest, e: unknown, stage: OtaStage, addressOf: AddressOf): Error {
  if (isOtaError(e)) return e;
  const address = typeof addressOf === 'function' ? addressOf(req.url) : addressOf;
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const tlsRefusal = err.code === PIN_MISMATCH || err.cause?.code === PIN_MISMATCH;
  if (tlsRefusal) return otaError('INSECURE_TRANSPORT', stage, (req.method ?? 'GET') + ' ' + req.url + ' refused: ' + (err.cause?.message ?? err.message), { cause: e });
  // OpenSSL's verification failures: CERT_*, *_SELF_SIGNED_CERT*, UNABLE_TO_*, ERR_TLS_CERT_ALTNAME_INVALID.
  if (typeof err.code === 'string' && (err.code.indexOf('CERT') >= 0 || err.code.indexOf('UNABLE_TO_') === 0)) {
    return otaError('INSECURE_TRANSPORT', stage, (req.method ?? 'GET') + ' ' + req.url + ' refused: ' + networkErrorText(err.code, address)!, { cause: e });
  }
  const why = networkErrorText(err.code ?? err.cause?.code, address) ?? err.message ?? String(e);
  return otaError('NETWORK', stage, (req.method ?? 'GET') + ' ' + req.url + ' failed: ' + why, { retryable: true, cause: e });
}

/**
 * The axios settings of a request. Every hop passes `checkHop`; a refused redirect is kept in
 * `guard.refused` (axios wraps what `beforeRedirect` throws) for the caller to throw as it is.
 */
function baseConfig(req: HttpRequest, agent: Agent | undefined, guard: Guard): AxiosRequestConfig {
  let from = new URL(req.url);
  checkHop(from, null, guard.allowHttp, guard.stage);
  return {
    beforeRedirect(options: { href?: string }) {
      const next = new URL(String(options.href));
      try {
        checkHop(next, from, guard.allowHttp, guard.stage);
      } catch (e) {
        guard.refused = e as Error;
        throw e;
      }
      from = next;
    },
    httpsAgent: agent,
    url: req.url,
    method: req.method ?? 'GET',
    headers: Object.assign({ 'Accept-Encoding': 'identity' }, req.headers),
    data: req.body,
    validateStatus: () => true,
    maxRedirects: 5,
    // Bytes must arrive exactly as stored: ranges are offsets into the image.
    decompress: false,
  };
}

interface Guard {
  allowHttp: boolean;
  stage: OtaStage;
  refused?: Error;
}

/**
 * What a proxied request needs, loaded on first use: axios's one-file CommonJS build (its ES
 * module tree of ~70 files costs ~6 MiB more), and an https agent with the certificate checks.
 */
function proxied(checks: ConnectionOptions): () => { axios: AxiosStatic; agent: Agent | undefined } {
  let loaded: { axios: AxiosStatic; agent: Agent | undefined } | null = null;
  return () => {
    if (loaded === null) {
      const { Agent: HttpsAgent } = load('node:https') as typeof import('node:https');
      loaded = { axios: load('axios') as AxiosStatic, agent: Object.keys(checks).length === 0 ? undefined : new HttpsAgent(Object.assign({ keepAlive: true }, checks)) };
    }
    return loaded;
  };
}

/** A small request on the fixed-buffer reader: the body gathered, `timeoutMs` bounding the whole. */
async function directRequest(req: HttpRequest, checks: ConnectionOptions, allowHttp: boolean): Promise<HttpResponse> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const failed = (why: string) => otaError('NETWORK', 'check', (req.method ?? 'GET') + ' ' + req.url + ' failed: ' + why, { retryable: true });
  const answer = smallBody(MAX_RESPONSE_BYTES, () => failed('the answer is larger than ' + MAX_RESPONSE_BYTES + ' bytes'));
  await fixedBufferRequest(req, answer.handlers, { tls: checks, idleMs: timeoutMs, whole: true, allowHttp, stage: 'check', stalled: () => failed('no complete answer within ' + timeoutMs / 1000 + ' s') });
  return { status: answer.status, headers: answer.headers, body: answer.text() };
}

/**
 * Creates the Node transport; `allowHttp` allows plain HTTP to other machines (`allow_http`);
 * `address` is where the URLs' hosts were given, named when a connection is refused.
 */
export function nodeTransport(tls: TlsOptions = {}, allowHttp = false, address: AddressOf = 'ota_domain'): Transport {
  const checks = tlsChecks(tls);
  const viaProxy = proxied(checks);
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const guard: Guard = { allowHttp, stage: 'check' };
      try {
        if (fixedBufferCanTake(req)) return await directRequest(req, checks, allowHttp);
        const { axios, agent } = viaProxy();
        const res = await axios.request<string>(
          Object.assign(baseConfig(req, agent, guard), {
            timeout: req.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            responseType: 'text' as const,
            transformResponse: (d: string) => d,
            maxContentLength: MAX_RESPONSE_BYTES,
          }),
        );
        return { status: res.status, headers: lowerHeaders(res.headers), body: typeof res.data === 'string' ? res.data : '' };
      } catch (e) {
        throw networkError(req, guard.refused ?? e, 'check', address);
      }
    },

    async stream(req: HttpRequest, handlers: StreamHandlers): Promise<void> {
      // Within setTimeout's range (a longer delay fires at once): download_timeout "30d" means "no limit".
      const idleMs = Math.min(req.timeoutMs ?? DEFAULT_TIMEOUT_MS, MAX_TIMER_MS);
      if (fixedBufferCanTake(req)) {
        try {
          return await fixedBufferRequest(req, handlers, { tls: checks, idleMs, allowHttp, stage: 'download', stalled: () => stalled(req, idleMs) });
        } catch (e) {
          throw networkError(req, e, 'download', address);
        }
      }
      await axiosStream(req, handlers, viaProxy(), idleMs, { allowHttp, stage: 'download' }, address);
    },
  };
}

function stalled(req: HttpRequest, idleMs: number): Error {
  return otaError('NETWORK', 'download', 'no data from ' + req.url + ' for ' + idleMs / 1000 + ' s', { retryable: true });
}

async function axiosStream(req: HttpRequest, handlers: StreamHandlers, { axios, agent }: { axios: AxiosStatic; agent: Agent | undefined }, idleMs: number, guard: Guard, address: AddressOf): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let idle = false;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      controller.abort();
    }, idleMs);
  };
  const stop = () => controller.abort();
  req.signal?.addEventListener('abort', stop);
  let body: Readable | undefined;
  try {
    if (req.signal?.aborted) throw new Error('stopped');
    arm();
    const res = await axios.request<Readable>(Object.assign(baseConfig(req, agent, guard), { responseType: 'stream' as const, signal: controller.signal }));
    body = res.data;
    if (!handlers.onResponse(res.status, lowerHeaders(res.headers))) return;
    body.on('error', () => undefined);
    for await (const piece of body) {
      // The idle timeout measures the network: it does not run while the handler works.
      clearTimeout(timer);
      const more = await handlers.onData(piece as Buffer);
      if (more === false) return;
      arm();
    }
    // A body cut short by an abort ends without an error in some Node versions.
    if (idle) throw stalled(req, idleMs);
  } catch (e) {
    if (idle) throw stalled(req, idleMs);
    throw networkError(req, guard.refused ?? e, 'download', address);
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', stop);
    if (body && !body.destroyed) body.destroy();
  }
}
