/**
 * The protocols the Espruino build carries, standing in for `protocol/select.ts`: the native
 * manifest protocol only. hawkBit's and IoTaaP's adapters would add ~6 KB to a module meant
 * for a few hundred kilobytes of RAM; a board configured for them is told so.
 */
import type { OtaConfig } from '../../config/config.js';
import { otaError } from '../../errors.js';
import type { Platform } from '../interfaces.js';
import { nativeProtocol } from '../../check/native.js';
import type { Protocol } from '../../check/protocol.js';

export function protocolFor(config: OtaConfig, platform: Platform): Protocol {
  // "auto", the default, tells IoTaaP's API from the native protocol; with only the native one
  // here, it is the native one.
  if (config.protocol !== 'native' && config.protocol !== 'auto') {
    throw otaError('CONFIG_INVALID', 'config', 'protocol "' + config.protocol + '" is not in the Espruino build (only "native"); nothing was changed');
  }
  return nativeProtocol(config, platform);
}
