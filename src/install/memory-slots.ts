/** Slots in memory: a device's slots in RAM, for tests and simulations. */
import type { SlotName, SlotStorage } from './slots.js';

/** Slots held in memory; `capacity` bounds each (default 16 MiB). */
export function memorySlots(capacity = 16 * 1024 * 1024): SlotStorage & { bytes(slot: SlotName): Uint8Array } {
  const data: { a: Uint8Array; b: Uint8Array } = { a: new Uint8Array(0), b: new Uint8Array(0) };
  return {
    capacity: () => capacity,
    readSize: 64 * 1024,
    locate: (slot) => 'memory:' + slot,
    bytes: (slot) => data[slot],
    async open(slot, size) {
      const next = new Uint8Array(size);
      next.set(data[slot].subarray(0, Math.min(size, data[slot].length)));
      data[slot] = next;
      return {
        async write(offset, bytes) {
          if (offset + bytes.length > size) throw new Error('write past the end of slot ' + slot);
          data[slot].set(bytes, offset);
        },
        async sync() {},
        async close() {},
      };
    },
    async read(slot, offset, length) {
      return data[slot].slice(offset, Math.min(offset + length, data[slot].length));
    },
  };
}
