/**
 * IoTaaP OS's device API, as its devices use it (iotaap/iotaap-os src/ota/ota_module.cpp):
 * `GET …/latest/{id}` answers `{"ver": …}`, the image comes from `…/download/{id}{token}` (the
 * token in the URL, as IoTaaP does; weaker than a header). No size, no checksum, no status API:
 * the size is probed, the SHA-256 computed, and an ESP32 image is checked against its own
 * appended hash. The version is free text, as IoTaaP compares it (`version != running`).
 */
import type { OtaConfig } from '../config/config.js';
import { otaError } from '../errors.js';
import { DEFAULT_CHUNK_SIZE, type Release } from './release.js';
import { getJson, type JsonHttp } from './json-http.js';
import type { Protocol } from './protocol.js';

/** The check and download URLs of a device (or of its group, when `group_id` is set), and its token. */
export interface IotaapEndpoints {
  checkUrl: string;
  downloadUrl: string;
  token: string;
}

/** IoTaaP's endpoints for a configuration (OTA_CHECK_* and OTA_DOWNLOAD_* in IoTaaP OS's definitions.h). */
export function iotaapEndpoints(config: OtaConfig): IotaapEndpoints {
  const group = config.group_id !== '';
  const kind = group ? 'group' : 'device';
  const id = group ? config.group_id : config.device_id;
  const token = group ? config.group_token : config.device_token;
  return {
    checkUrl: config.ota_domain + '/v1/ota/' + kind + '/latest/' + encodeURIComponent(id),
    downloadUrl: config.ota_domain + '/v1/ota/' + kind + '/download/' + encodeURIComponent(id + token),
    token,
  };
}

/** True for IoTaaP's check answer: an object whose only field is `ver`. */
export function isIotaapAnswer(data: unknown): boolean {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return false;
  const keys = Object.keys(data);
  return keys.length === 1 && keys[0] === 'ver';
}

/** The release an IoTaaP check answer (`{"ver": …}`) announces. */
export function iotaapRelease(data: unknown, at: IotaapEndpoints): Release {
  const ver = typeof data === 'object' && data !== null ? (data as { ver?: unknown }).ver : undefined;
  if (typeof ver !== 'string' || ver === '') {
    throw otaError('VERSION_INVALID', 'check', 'IoTaaP answered ' + JSON.stringify(data).slice(0, 200) + ' to GET ' + at.checkUrl + '; expected {"ver": "<version>"}');
  }
  return { version: ver, size: null, sha256: null, chunkSize: DEFAULT_CHUNK_SIZE, chunkCrc32: null, url: at.downloadUrl, overrideRejected: false };
}

/** Creates the IoTaaP protocol adapter. */
export function iotaapProtocol(config: OtaConfig, net: JsonHttp): Protocol {
  const at = iotaapEndpoints(config);
  return {
    checkUrl: at.checkUrl,
    async check(): Promise<Release | null> {
      const data = await getJson(net, at.checkUrl, {});
      return data === null ? null : iotaapRelease(data, at);
    },
    downloadHeaders: () => ({}),
    // IoTaaP's API takes no status reports.
    report: async () => undefined,
  };
}
