/** The boot selector on Espruino: `.boot0` starts the active slot at every boot. */
import type { BootSelector } from './boot-selector.js';

/** The boot program: at every start, the module's `start()` boots and runs the active slot. */
const BOOT_PROGRAM = 'setTimeout(function(){require("ota-client").start();},1);';

/** Makes sure `.boot0` runs the active slot (boot control itself lives in the state). */
export function bootFile(storage: EspruinoStorage = require('Storage')): BootSelector {
  return {
    async apply() {
      if (storage.read('.boot0') !== BOOT_PROGRAM) storage.write('.boot0', BOOT_PROGRAM);
    },
  };
}
