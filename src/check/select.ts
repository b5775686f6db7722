/** The protocol adapter a configuration names. */
import type { OtaConfig } from '../config/config.js';
import type { Platform } from '../platform/interfaces.js';
import { AGENT_VERSION } from './version.js';
import { autoProtocol } from './auto.js';
import { hawkbitProtocol } from './hawkbit.js';
import { iotaapProtocol } from './iotaap.js';
import { nativeProtocol } from './native.js';
import type { Protocol } from './protocol.js';

export function protocolFor(config: OtaConfig, platform: Platform): Protocol {
  if (config.protocol === 'iotaap') return iotaapProtocol(config, platform);
  if (config.protocol === 'hawkbit') return hawkbitProtocol(config, platform, AGENT_VERSION);
  if (config.protocol === 'native') return nativeProtocol(config, platform);
  return autoProtocol(config, platform);
}
