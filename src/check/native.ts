/**
 * The native protocol (docs/protocol.md): IoTaaP's check endpoint answering a full manifest,
 * the token in an Authorization header, and status reports.
 */
import type { OtaConfig } from '../config/config.js';
import { mayCarryCredentials } from '../config/url-policy.js';
import { otaError } from '../errors.js';
import type { Platform } from '../platform/interfaces.js';
import { checkManifest } from './trust.js';
import { parseManifest, type Release } from './release.js';
import { getJson, sendJson } from './json-http.js';
import { iotaapEndpoints, isIotaapAnswer } from './iotaap.js';
import type { Protocol, StatusReport } from './protocol.js';
import { isoTime } from '../text/iso-time.js';

/** The native adapter, and how it reads a check answer (protocol "auto" shares that). */
export interface NativeProtocol extends Protocol {
  checkUrl: string;
  /** The check's headers: credentials, the device's name and running version. */
  checkHeaders(running: { version: string }): Record<string, string>;
  /** Validates a check answer (signature, audience, fields) and turns it into a release. */
  release(data: unknown): Release;
}

/** Creates the native protocol adapter for a device configuration. */
export function nativeProtocol(config: OtaConfig, platform: Pick<Platform, 'transport' | 'clock' | 'trust'>): NativeProtocol {
  const at = iotaapEndpoints(config);
  const auth: Record<string, string> = at.token === '' ? {} : { Authorization: 'Bearer ' + at.token };
  // Who asks, for a console's device table and download progress (a group's URL names no device).
  const named = Object.assign({ 'X-OTA-Device': config.device_id }, auth);
  const checkHeaders = (running: { version: string }) => Object.assign({ 'X-OTA-Version': running.version }, named);

  const release = (data: unknown): Release => {
    if (isIotaapAnswer(data) && config.protocol === 'native') {
      throw otaError('MANIFEST_INVALID', 'check', 'the server answered ' + JSON.stringify(data).slice(0, 100) + ' to GET ' + at.checkUrl + ': that is IoTaaP\'s API, not a native manifest; set "protocol": "auto" (or "iotaap")');
    }
    const signed = typeof data === 'object' && data !== null && !Array.isArray(data) && checkManifest(data as { [key: string]: unknown }, platform.trust, { device: config.device_id, group: config.group_id }, platform.clock.date());
    return Object.assign(parseManifest(data, config.ota_domain), { signed });
  };

  return {
    checkUrl: at.checkUrl,
    checkHeaders,
    release,

    async check(running): Promise<Release | null> {
      const data = await getJson(platform, at.checkUrl, checkHeaders(running));
      return data === null ? null : release(data);
    },

    downloadHeaders(url) {
      // The device's name goes where its credentials may: to the update server, not a third party.
      return mayCarryCredentials(url, config.ota_domain, config.trusted_origins) ? named : {};
    },

    async report(report: StatusReport): Promise<void> {
      const url = config.ota_domain + '/v1/ota/device/status/' + encodeURIComponent(config.device_id);
      const body: { [key: string]: unknown } = { device_id: config.device_id, time: isoTime(platform.clock.date()) };
      for (const key of Object.keys(report)) body[key] = report[key as keyof StatusReport];
      if (config.group_id !== '') body.group_id = config.group_id;
      await sendJson(platform, 'POST', url, auth, body);
    },
  };
}
