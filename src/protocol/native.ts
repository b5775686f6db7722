/**
 * The native protocol (docs/protocol.md): IoTaaP's check endpoint answering a full manifest,
 * the token in an Authorization header, and status reports.
 */
import type { OtaConfig } from '../config.js';
import { otaError } from '../errors.js';
import type { Transport } from '../platform.js';
import { parseManifest, type Release } from '../release.js';
import type { Protocol, StatusReport } from './protocol.js';

const CHECK_TIMEOUT_MS = 15000;
const REPORT_TIMEOUT_MS = 5000;

/** Creates the native protocol adapter for a device configuration. */
export function nativeProtocol(config: OtaConfig, transport: Transport): Protocol {
  const inGroup = config.group_id !== '';
  const checkUrl = inGroup
    ? config.ota_domain + '/v1/ota/group/latest/' + encodeURIComponent(config.group_id)
    : config.ota_domain + '/v1/ota/device/latest/' + encodeURIComponent(config.device_id);
  const token = inGroup ? config.group_token : config.device_token;
  const auth: Record<string, string> = token === '' ? {} : { Authorization: 'Bearer ' + token };

  return {
    async check(): Promise<Release | null> {
      const res = await transport.request({ url: checkUrl, headers: auth, timeoutMs: CHECK_TIMEOUT_MS });
      if (res.status === 404) return null;
      if (res.status !== 200) {
        throw otaError('HTTP_STATUS', 'check', 'update server answered HTTP ' + res.status + ' to GET ' + checkUrl, {
          status: res.status,
          retryable: res.status >= 500 || res.status === 429,
        });
      }
      let data: unknown;
      try {
        data = JSON.parse(res.body);
      } catch (e) {
        throw otaError('MANIFEST_INVALID', 'check', 'manifest from ' + checkUrl + ' is not valid JSON');
      }
      return parseManifest(data, config.ota_domain);
    },

    downloadHeaders() {
      return auth;
    },

    async report(report: StatusReport): Promise<void> {
      const url = config.ota_domain + '/v1/ota/device/status/' + encodeURIComponent(config.device_id);
      const body: { [key: string]: unknown } = { device_id: config.device_id, time: new Date().toISOString() };
      for (const key of Object.keys(report)) body[key] = report[key as keyof StatusReport];
      if (inGroup) body.group_id = config.group_id;
      const res = await transport.request({
        url,
        method: 'POST',
        headers: Object.assign({ 'Content-Type': 'application/json' }, auth),
        body: JSON.stringify(body),
        timeoutMs: REPORT_TIMEOUT_MS,
      });
      if (res.status >= 300) {
        throw otaError('HTTP_STATUS', 'report', 'status report got HTTP ' + res.status + ' from ' + url, { status: res.status });
      }
    },
  };
}
