/** State documents in memory, for tests and simulations. */
import type { StateStore } from './interfaces.js';

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
