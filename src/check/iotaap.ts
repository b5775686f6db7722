/**
 * IoTaaP OS's device API, as its devices use it: `GET …/latest/{id}` answers `{"ver": …}`, the
 * image comes from `…/download/{id}{token}` (the token in the URL, as IoTaaP does; weaker than a
 * header). No size, no checksum, no status API: the size is probed, the SHA-256 computed, and an
 * ESP32 image is checked against its own appended hash.
 */
import type { OtaConfig } from '../config/config.js';
import { otaError } from '../errors.js';
import { DEFAULT_CHUNK_SIZE, type Release } from './release.js';
import { parseVersion } from './version.js';
import { getJson, type JsonHttp } from './json-http.js';
import type { Protocol } from './protocol.js';

/** Creates the IoTaaP protocol adapter. */
export function iotaapProtocol(config: OtaConfig, net: JsonHttp): Protocol {
  const group = config.group_id !== '';
  const kind = group ? 'group' : 'device';
  const id = group ? config.group_id : config.device_id;
  const token = group ? config.group_token : config.device_token;
  const checkUrl = config.ota_domain + '/v1/ota/' + kind + '/latest/' + encodeURIComponent(id);
  const downloadUrl = config.ota_domain + '/v1/ota/' + kind + '/download/' + encodeURIComponent(id + token);

  return {
    checkUrl,
    async check(): Promise<Release | null> {
      const data = (await getJson(net, checkUrl, {})) as { ver?: unknown } | null;
      if (data === null) return null;
      const version = typeof data === 'object' && typeof data.ver === 'string' ? parseVersion(data.ver) : null;
      if (version === null) {
        throw otaError('VERSION_INVALID', 'check', 'IoTaaP answered ' + JSON.stringify(data).slice(0, 200) + ' to GET ' + checkUrl + '; expected {"ver": "<semantic version>"}');
      }
      return { version, size: null, sha256: null, chunkSize: DEFAULT_CHUNK_SIZE, chunkCrc32: null, url: downloadUrl, overrideRejected: false };
    },
    downloadHeaders: () => ({}),
    // IoTaaP's API takes no status reports.
    report: async () => undefined,
  };
}
