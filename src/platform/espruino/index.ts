/**
 * ota-client for Espruino boards: the same core and API as on Node, with Espruino's HTTP,
 * Storage and crypto. What it updates is the JavaScript application kept in Storage slots.
 *
 * ```js
 * var ota = require("ota-client");
 * ota.checkForUpdates().then(function (r) { console.log(r.status); });
 * ```
 */
import { resolveConfig } from '../../config/config.js';
import { toOtaError } from '../../errors.js';
import { formatLogLine } from '../../log/log-line.js';
import { timerClock } from '../../schedule/timer-clock.js';
import type { Platform } from '../interfaces.js';
import { Updater, type CheckResult } from '../../updater/updater.js';
import { crc32, sha256 } from './hash.js';
import { bootFile } from '../../boot/boot0-file.js';
import { storageSlots } from '../../install/storage-slots.js';
import { storageState } from './storage-state.js';
import { espruinoTransport } from './transport.js';

/** The Espruino platform; `overrides` replace parts (tests replace `reboot`). */
function platform(overrides?: Partial<Platform>): Platform {
  const p: Platform = {
    transport: espruinoTransport(),
    slots: storageSlots(),
    bootSelector: bootFile(),
    state: storageState(),
    clock: timerClock(() => Date.now()),
    logger: { log: (level, message) => console.log(formatLogLine(new Date(), level, message)) },
    sha256,
    crc32,
    reboot: async () => E.reboot(),
    random: Math.random,
    // Espruino stops the running code when its variables run out and sets this flag.
    allocationFailed: () => E.getErrorFlags().indexOf('MEMORY') >= 0,
  };
  return overrides ? Object.assign(p, overrides) : p;
}

/** Creates an updater from settings with default.cfg's keys. */
export function createUpdater(options: { config: Record<string, unknown>; platform?: Partial<Platform> }): Updater {
  return new Updater({ config: resolveConfig(options.config).config, platform: platform(options.platform) });
}

let shared: Updater | null = null;

/** The updater configured from the Storage file `default.cfg` (JSON). */
export function defaultUpdater(overrides?: Partial<Platform>): Updater {
  if (shared === null) {
    shared = new Updater({ config: resolveConfig(require('Storage').readJSON('default.cfg', true), 'default.cfg').config, platform: platform(overrides) });
  }
  return shared;
}

/** Checks for a newer application and installs it; never rejects. */
export function checkForUpdates(): Promise<CheckResult> {
  try {
    return defaultUpdater().checkForUpdates();
  } catch (e) {
    const error = toOtaError(e, 'config');
    return Promise.resolve({ status: 'failed', error, message: error.message + '; nothing was changed' } as CheckResult);
  }
}

/** Confirms the application running on trial. */
export function confirm(): Promise<void> {
  return defaultUpdater().confirm();
}

/** The boot step, then the active slot's application (what `.boot0` calls at every start). */
export function start(overrides?: Partial<Platform>): Promise<void> {
  const u = defaultUpdater(overrides);
  return u.boot().then((s) => {
    const code = require('Storage').read('ota.' + s.slot);
    if (code === undefined) throw new Error('slot ' + s.slot + ' is empty');
    // The application runs at global scope, as if it were the board's own code.
    (0, eval)(code);
  });
}
