/** The JSON exchanges every protocol adapter makes, with one way of turning HTTP trouble into errors. */
import { otaError, type OtaStage } from '../errors.js';
import { parseRetryAfter } from '../download/http-headers.js';
import type { Platform } from '../platform/interfaces.js';

/** What the JSON exchanges use of the platform. */
export type JsonHttp = Pick<Platform, 'transport' | 'clock'>;

const TIMEOUT_MS = 15000;

function statusError(net: JsonHttp, method: string, url: string, status: number, retryAfter: string | undefined, stage: OtaStage) {
  const retryable = status >= 500 || status === 429;
  const wait = retryable ? parseRetryAfter(retryAfter, net.clock.date()) : null;
  // 401/403 are nearly always the token: say so, as the bare status does not.
  const hint = status === 401 || status === 403 ? ' (the server refused the credentials: check "device_token", or "group_token" in a group)' : '';
  return otaError('HTTP_STATUS', stage, 'update server answered HTTP ' + status + ' to ' + method + ' ' + url + hint, {
    status,
    retryable,
    retryAfterMs: wait === null ? undefined : wait,
  });
}

/**
 * GETs a JSON document; null for 404 (nothing published). Other statuses are errors; so are a
 * body that is not JSON and a JSON `null`, which are retryable: a proxy's error page or a
 * manifest caught half-written is gone on the next try.
 */
export async function getJson(net: JsonHttp, url: string, headers: Record<string, string>): Promise<unknown> {
  const res = await net.transport.request({ url, headers: Object.assign({ Accept: 'application/hal+json, application/json' }, headers), timeoutMs: TIMEOUT_MS });
  if (res.status === 404) return null;
  if (res.status !== 200) throw statusError(net, 'GET', url, res.status, res.headers['retry-after'], 'check');
  let data: unknown = null;
  try {
    data = JSON.parse(res.body);
  } catch (e) {
    // reported below
  }
  if (data === null) throw otaError('MANIFEST_INVALID', 'check', 'answer to GET ' + url + ' is not a JSON document (' + JSON.stringify(res.body.slice(0, 40)) + ')', { retryable: true });
  return data;
}

/** POSTs or PUTs a JSON document; resolves to the status (2xx, or the ones in `accept`), else rejects. */
export async function sendJson(net: JsonHttp, method: 'POST' | 'PUT', url: string, headers: Record<string, string>, body: unknown, accept: number[] = []): Promise<number> {
  const res = await net.transport.request({
    url,
    method,
    headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
    body: JSON.stringify(body),
    timeoutMs: TIMEOUT_MS,
  });
  if ((res.status >= 200 && res.status < 300) || accept.indexOf(res.status) >= 0) return res.status;
  throw statusError(net, method, url, res.status, res.headers['retry-after'], 'report');
}
