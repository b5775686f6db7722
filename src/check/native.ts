/**
 * The native protocol (docs/protocol.md): IoTaaP's check endpoint answering a full manifest,
 * the token in an Authorization header, and status reports.
 */
import type { OtaConfig } from '../config/config.js';
import { mayCarryCredentials } from '../config/url-policy.js';
import type { Platform } from '../platform/interfaces.js';
import { checkManifest } from './trust.js';
import { parseManifest, type Release } from './release.js';
import { getJson, sendJson } from './json-http.js';
import type { Protocol, StatusReport } from './protocol.js';

/** Creates the native protocol adapter for a device configuration. */
export function nativeProtocol(config: OtaConfig, platform: Pick<Platform, 'transport' | 'clock' | 'trust'>): Protocol {
  const inGroup = config.group_id !== '';
  const checkUrl = inGroup
    ? config.ota_domain + '/v1/ota/group/latest/' + encodeURIComponent(config.group_id)
    : config.ota_domain + '/v1/ota/device/latest/' + encodeURIComponent(config.device_id);
  const token = inGroup ? config.group_token : config.device_token;
  const auth: Record<string, string> = token === '' ? {} : { Authorization: 'Bearer ' + token };
  // Who asks, for a console's device table and download progress (a group's URL names no device).
  const named = Object.assign({ 'X-OTA-Device': config.device_id }, auth);

  return {
    checkUrl,
    async check(running): Promise<Release | null> {
      const data = await getJson(platform, checkUrl, Object.assign({ 'X-OTA-Version': running.version }, named));
      if (data === null) return null;
      const signed = typeof data === 'object' && !Array.isArray(data) && checkManifest(data as { [key: string]: unknown }, platform.trust, { device: config.device_id, group: config.group_id }, platform.clock.date());
      return Object.assign(parseManifest(data, config.ota_domain), { signed });
    },

    downloadHeaders(url) {
      // The device's name goes where its credentials may: to the update server, not a third party.
      return mayCarryCredentials(url, config.ota_domain, config.trusted_origins) ? named : {};
    },

    async report(report: StatusReport): Promise<void> {
      const url = config.ota_domain + '/v1/ota/device/status/' + encodeURIComponent(config.device_id);
      const body: { [key: string]: unknown } = { device_id: config.device_id, time: new Date(platform.clock.date()).toISOString() };
      for (const key of Object.keys(report)) body[key] = report[key as keyof StatusReport];
      if (inGroup) body.group_id = config.group_id;
      await sendJson(platform, 'POST', url, auth, body);
    },
  };
}
