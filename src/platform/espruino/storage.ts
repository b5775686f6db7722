/**
 * Espruino Storage as slots, state and boot selector. Slots are Storage files `ota.a`/`ota.b`
 * holding the JavaScript application; state documents are `ota-<name>` files (Storage replaces
 * a file whole, so each write is atomic); `.boot0` starts the active slot at every boot.
 */
import { otaError } from '../../errors.js';
import type { BootSelector, SlotName, SlotStorage, StateStore } from '../interfaces.js';

const slotFile = (slot: SlotName) => 'ota.' + slot;

/** The application slots. Flash cannot be written twice, so a torn chunk means starting over. */
export function storageSlots(): SlotStorage {
  const storage = require('Storage');
  return {
    capacity: () => undefined,
    readSize: 1024,
    locate: slotFile,
    async open(slot, size) {
      const name = slotFile(slot);
      return {
        async write(offset, data) {
          if (offset === 0) {
            storage.write(name, data, 0, size); // a new file of `size` bytes
            return;
          }
          const there = storage.read(name, offset, data.length);
          for (let i = 0; there !== undefined && i < there.length; i++) {
            if (there.charCodeAt(i) !== 0xff) {
              storage.erase(name);
              throw otaError('SLOT_IO', 'download', 'slot ' + slot + ' holds a torn write at byte ' + (offset + i) + '; erased it, the next attempt starts over');
            }
          }
          storage.write(name, data, offset);
        },
        async sync() {},
        async close() {},
      };
    },
    async read(slot, offset, length) {
      const s = storage.read(slotFile(slot), offset, length);
      return s === undefined ? new Uint8Array(0) : E.toUint8Array(s);
    },
  };
}

/** State documents as Storage files. */
export function storageState(): StateStore {
  const storage = require('Storage');
  return {
    async read(name) {
      const s = storage.read('ota-' + name);
      return s === undefined ? null : s;
    },
    async write(name, text) {
      storage.write('ota-' + name, text);
    },
    async remove(name) {
      storage.erase('ota-' + name);
    },
  };
}

/** The boot program: at every start, the module's `start()` boots and runs the active slot. */
const BOOT_PROGRAM = 'setTimeout(function(){require("ota-client").start();},1);';

/** Makes sure `.boot0` runs the active slot (boot control itself lives in the state). */
export function bootFile(): BootSelector {
  return {
    async apply() {
      const storage = require('Storage');
      if (storage.read('.boot0') !== BOOT_PROGRAM) storage.write('.boot0', BOOT_PROGRAM);
    },
  };
}
