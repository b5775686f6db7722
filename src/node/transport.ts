/** HTTP transport for Node, on axios: streamed bodies with backpressure and an idle timeout. */
import axios, { type AxiosRequestConfig, type AxiosResponse } from 'axios';
import type { Readable } from 'node:stream';
import { isOtaError, otaError, type OtaStage } from '../errors.js';
import type { HttpRequest, HttpResponse, StreamHandlers, Transport } from '../platform.js';

const DEFAULT_TIMEOUT_MS = 30000;

function lowerHeaders(h: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(h)) {
    const v = h[key];
    if (v !== undefined && v !== null) out[key.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function networkError(req: HttpRequest, e: unknown, stage: OtaStage): Error {
  if (isOtaError(e)) return e;
  const err = e as { code?: string; message?: string };
  const why = err.code ?? err.message ?? String(e);
  return otaError('NETWORK', stage, (req.method ?? 'GET') + ' ' + req.url + ' failed: ' + why, { retryable: true, cause: e });
}

function baseConfig(req: HttpRequest): AxiosRequestConfig {
  return {
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

/** Creates the axios-based transport. */
export function nodeTransport(): Transport {
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      try {
        const res = await axios.request<string>(
          Object.assign(baseConfig(req), {
            timeout: req.timeoutMs ?? DEFAULT_TIMEOUT_MS,
            responseType: 'text' as const,
            transformResponse: (d: string) => d,
            maxContentLength: 1024 * 1024,
          }),
        );
        return { status: res.status, headers: lowerHeaders(res.headers), body: typeof res.data === 'string' ? res.data : '' };
      } catch (e) {
        throw networkError(req, e, 'check');
      }
    },

    async stream(req: HttpRequest, handlers: StreamHandlers): Promise<void> {
      const idleMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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
      const stalled = () => otaError('NETWORK', 'download', 'no data from ' + req.url + ' for ' + idleMs / 1000 + ' s', { retryable: true });
      let body: Readable | undefined;
      try {
        arm();
        const res = await axios.request<Readable>(Object.assign(baseConfig(req), { responseType: 'stream' as const, signal: controller.signal }));
        body = res.data;
        if (!handlers.onResponse(res.status, lowerHeaders(res.headers))) return;
        body.on('error', () => undefined);
        for await (const piece of body) {
          arm();
          const more = await handlers.onData(piece as Buffer);
          if (more === false) return;
        }
        // A body cut short by an abort ends without an error in some Node versions.
        if (idle) throw stalled();
      } catch (e) {
        if (idle) throw stalled();
        throw networkError(req, e, 'download');
      } finally {
        clearTimeout(timer);
        if (body && !body.destroyed) body.destroy();
      }
    },
  };
}
