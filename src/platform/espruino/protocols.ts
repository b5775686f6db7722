/**
 * The protocols the Espruino build carries, standing in for `protocol/select.ts`: the native
 * manifest protocol only. hawkBit's and IoTaaP's adapters would add ~6 KB to a module meant
 * for a few hundred kilobytes of RAM; a board configured for them is told so. The native
 * adapter itself (manifest parsing, signatures) is in the file `ota-client-run`, loaded while a
 * check or a status report uses it (run-file.ts).
 */
import type { OtaConfig } from '../../config/config.js';
import { otaError } from '../../errors.js';
import type { Platform } from '../interfaces.js';
import type { Protocol } from '../../check/protocol.js';
import { runFile, usingRunFile } from './run-file.js';

export function protocolFor(config: OtaConfig, platform: Platform): Protocol {
  // "auto", the default, tells IoTaaP's API from the native protocol; with only the native one
  // here, it is the native one.
  if (config.protocol !== 'native' && config.protocol !== 'auto') {
    throw otaError('CONFIG_INVALID', 'config', 'protocol "' + config.protocol + '" is not in the Espruino build (only "native"); nothing was changed');
  }
  // Built anew at each use (four times a check): a kept adapter would keep the file it comes from
  // in memory. Kept for the length of a check and dropped with the file (tried), it stays alive
  // through the download, and the "buffer" out-of-memory case on the Espruino WiFi layout
  // (espruino-memory.test.ts) then stopped the interpreter (ASSERT in jsvar.c) instead of failing
  // the update.
  return {
    get checkUrl() {
      return runFile().nativeProtocol(config, platform).checkUrl;
    },
    check: (running) => usingRunFile((f) => f.nativeProtocol(config, platform).check(running)),
    downloadHeaders: (url) => runFile().nativeProtocol(config, platform).downloadHeaders(url),
    report: (report) => usingRunFile((f) => f.nativeProtocol(config, platform).report(report)),
  };
}
