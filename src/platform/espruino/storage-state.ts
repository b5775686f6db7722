/** State documents on Espruino: `ota-<name>` Storage files (Storage replaces a file whole). */
import type { StateStore } from '../interfaces.js';

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
