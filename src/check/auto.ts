/**
 * Protocol "auto", the default: a stock IoTaaP OS default.cfg names no protocol, and the same
 * check URL serves IoTaaP's API and the native protocol. The answer tells them apart: IoTaaP
 * answers `{"ver": …}` alone, a native server a full manifest. Each answer is read by the adapter
 * it came from, so a device follows its server when that changes. With `public_keys` set only
 * signed native manifests are accepted: a bare `{"ver"}` would skip the signature.
 */
import type { OtaConfig } from '../config/config.js';
import type { Platform } from '../platform/interfaces.js';
import { getJson } from './json-http.js';
import { iotaapEndpoints, iotaapProtocol, iotaapRelease, isIotaapAnswer } from './iotaap.js';
import { nativeProtocol } from './native.js';
import type { Protocol } from './protocol.js';

/** Creates the "auto" adapter. */
export function autoProtocol(config: OtaConfig, platform: Pick<Platform, 'transport' | 'clock' | 'trust' | 'logger'>): Protocol {
  const native = nativeProtocol(config, platform);
  const iotaap = iotaapProtocol(config, platform);
  const at = iotaapEndpoints(config);
  const signed = config.public_keys.length > 0;
  let mode: Protocol | null = null;
  const use = (p: Protocol, name: string) => {
    if (mode !== p) platform.logger.log('INFO', 'Update server at ' + config.ota_domain + ' speaks ' + name);
    mode = p;
  };
  const current = () => mode ?? native;

  return {
    checkUrl: native.checkUrl,
    async check(running) {
      const data = await getJson(platform, native.checkUrl, native.checkHeaders(running));
      if (data === null) return null;
      if (!signed && isIotaapAnswer(data)) {
        use(iotaap, "IoTaaP's API (answer {\"ver\"} only: size probed, image hash computed, no status reports)");
        return iotaapRelease(data, at);
      }
      use(native, 'the native protocol (full manifest)');
      return native.release(data);
    },
    downloadHeaders: (url) => current().downloadHeaders(url),
    report: (r) => current().report(r),
  };
}
