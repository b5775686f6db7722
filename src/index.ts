/**
 * ota-client: over-the-air firmware updates for Node.js boards.
 *
 * ```ts
 * import { checkForUpdates } from 'ota-client';
 * const result = await checkForUpdates(); // reads ./default.cfg
 * ```
 * @packageDocumentation
 */
import { resolveConfig, type OtaSettings } from './config/config.js';
import { toOtaError } from './errors.js';
import { readConfigFile } from './platform/node/config-file.js';
import { nodePlatform, platformOptions } from './platform/node/platform.js';
import type { Platform } from './platform/interfaces.js';
import { Updater, type CheckResult } from './updater/updater.js';

export type { OtaConfig, OtaSettings } from './config/config.js';
export type { DownloadProgress } from './download/downloader.js';
export type { OtaError, OtaErrorCode, OtaStage } from './errors.js';
export type { BootStateName, DeviceStatus } from './boot/boot-state.js';
export type {
  Clock,
  Hasher,
  HttpRequest,
  HttpResponse,
  Logger,
  LogLevel,
  Platform,
  RebootRequest,
  StateStore,
  StopSignal,
  StreamHandlers,
  Transport,
} from './platform/interfaces.js';
export type { SlotName, SlotStorage, SlotWriter } from './install/slots.js';
export type { BootSelector } from './boot/boot-selector.js';
export { Updater } from './updater/updater.js';
export type { CheckOptions, CheckResult, UpdaterEvents } from './updater/updater.js';
export { REBOOT_EXIT_CODE, nodePlatform } from './platform/node/platform.js';
export type { NodePlatformOptions } from './platform/node/platform.js';

/** Options of {@link createUpdater}. */
export interface CreateUpdaterOptions {
  /** Settings with default.cfg's keys and meanings; validated, missing keys take their defaults. */
  config: OtaSettings;
  /** Where slots and state live; defaults to the config's `state_dir` (relative to the working directory). */
  stateDir?: string;
  /** Replaces parts of the Node platform (transport, clock, reboot, logger, ...). */
  platform?: Partial<Platform>;
}

/**
 * Creates an updater for this device. Throws an OtaError `CONFIG_INVALID` naming the key when
 * the configuration is invalid.
 */
export function createUpdater(options: CreateUpdaterOptions): Updater {
  const { config, warnings } = resolveConfig(options.config);
  const nodeOptions = platformOptions(config, options.stateDir ?? config.state_dir);
  // The caller's logger also goes to the parts built with the platform (the MQTT trigger).
  if (options.platform?.logger) nodeOptions.logger = options.platform.logger;
  const platform = Object.assign(nodePlatform(nodeOptions), options.platform);
  for (const w of warnings) platform.logger.log('WARNING', w);
  return new Updater({ config, platform });
}

let shared: Updater | null = null;

/**
 * The updater configured from `default.cfg` (the path in `$OTA_CONFIG`, else `./default.cfg`;
 * state in `$OTA_STATE_DIR`, else the config's `state_dir`), created on first use.
 */
export function defaultUpdater(): Updater {
  if (shared === null) {
    const file = readConfigFile(process.env.OTA_CONFIG ?? 'default.cfg');
    // Under `ota run`, the launcher says where the device's state is.
    const platform = nodePlatform(platformOptions(file.config, process.env.OTA_STATE_DIR ?? file.stateDir));
    for (const w of file.warnings) platform.logger.log('WARNING', w);
    shared = new Updater({ config: file.config, platform });
  }
  return shared;
}

/**
 * Checks for a newer firmware with the updater configured from `default.cfg` and installs it.
 * Never rejects: an unreadable or invalid configuration is a `failed` result naming the problem.
 */
export async function checkForUpdates(): Promise<CheckResult> {
  let updater: Updater;
  try {
    updater = defaultUpdater();
  } catch (e) {
    const error = toOtaError(e, 'config');
    return { status: 'failed', error, message: error.message + '; nothing was changed' };
  }
  return updater.checkForUpdates();
}

export { isOtaError } from './errors.js';
export { parseConfig } from './config/config.js';
