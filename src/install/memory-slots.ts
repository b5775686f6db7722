/** In-memory slots, state and boot selector: a whole device in RAM, for tests and simulations. */
import type { BootSelector, SlotName, SlotStorage, StateStore } from '../platform/interfaces.js';

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

/** State documents held in memory. */
export function memoryState(): StateStore & { docs: { [name: string]: string } } {
  const docs: { [name: string]: string } = {};
  return {
    docs,
    async read(name) {
      return name in docs ? docs[name]! : null;
    },
    async write(name, text) {
      docs[name] = text;
    },
    async remove(name) {
      delete docs[name];
    },
  };
}

/** A boot selector that only remembers the last state it was given. */
export function memorySelector(): BootSelector & { last: Parameters<BootSelector['apply']>[0] | null } {
  const sel = {
    last: null as Parameters<BootSelector['apply']>[0] | null,
    async apply(state: Parameters<BootSelector['apply']>[0]) {
      sel.last = state;
    },
  };
  return sel;
}
