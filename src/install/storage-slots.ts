/**
 * Slots on Espruino: Storage files `ota.a`/`ota.b` holding the JavaScript application.
 */
import { otaError } from '../errors.js';
import { sha256Hex } from '../platform/espruino/hash.js';
import type { SlotName, SlotStorage } from './slots.js';

const slotFile = (slot: SlotName) => 'ota.' + slot;

/** The application slots. Flash cannot be written twice, so a torn chunk means starting over. */
export function storageSlots(storage: EspruinoStorage = require('Storage')): SlotStorage {
  return {
    capacity: () => undefined,
    readSize: 1024,
    inPlace: true,
    locate: slotFile,
    async open(slot, size) {
      const name = slotFile(slot);
      return {
        async write(offset, data) {
          if (offset === 0) {
            storage.write(name, data, 0, size); // a new file of `size` bytes
            return;
          }
          // Bytes already there are kept: pieces are written where they go as they come (the slots
          // read in place), so a chunk cut short by a reboot is fetched again from its start. Past
          // them the flash must still be erased: it is written once.
          const there = storage.read(name, offset, data.length);
          let kept = 0;
          while (there !== undefined && kept < there.length && there.charCodeAt(kept) === data[kept]) kept++;
          for (let i = kept; there !== undefined && i < there.length; i++) {
            if (there.charCodeAt(i) !== 0xff) {
              storage.erase(name);
              throw otaError('SLOT_IO', 'download', 'slot ' + slot + ' holds a torn write at byte ' + (offset + i) + '; erased it, the next attempt starts over');
            }
          }
          if (kept < data.length) storage.write(name, data.subarray(kept), offset + kept);
        },
        async sync() {},
        async close() {},
      };
    },
    async read(slot, offset, length) {
      const s = storage.read(slotFile(slot), offset, length);
      // A view of the flash-backed string, not a copy (valid until Storage is compacted).
      return s === undefined ? new Uint8Array(0) : new Uint8Array(E.toArrayBuffer(s));
    },
    // Storage is memory-mapped: read() returns a string backed by flash, hashed without a copy.
    async sha256(slot, size) {
      return sha256Hex(storage.read(slotFile(slot), 0, size) ?? '');
    },
  };
}
