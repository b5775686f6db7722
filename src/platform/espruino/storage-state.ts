/**
 * State documents on Espruino. Storage erases a file before it writes the new one (Espruino's
 * jsflash.c), so a power cut there leaves the document missing or torn. Each document is kept
 * as two Storage files, `ota-<name>.0` and `ota-<name>.1`, each starting with a line
 * `<sequence> <CRC-32>`; a write replaces the older copy, and a read takes the newest copy whose
 * checksum holds, as MCUboot keeps its image trailers. A cut leaves the old document or the new.
 */
import { crc32 } from './hash.js';
import { parseWhole } from '../../text/numbers.js';
import type { StateStore } from '../interfaces.js';

function copyName(name: string, copy: number): string {
  return 'ota-' + name + '.' + copy;
}

/** CRC-32 of a Storage string (one byte per character on Espruino). */
function checksum(text: string): number {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 255;
  return crc32(bytes);
}

/** The newest copy of `name` whose checksum holds, or null. */
function newest(storage: EspruinoStorage, name: string): { seq: number; copy: number; text: string } | null {
  let best: { seq: number; copy: number; text: string } | null = null;
  for (let copy = 0; copy < 2; copy++) {
    const raw = storage.read(copyName(name, copy));
    if (raw === undefined) continue;
    const eol = raw.indexOf('\n');
    const space = raw.indexOf(' ');
    if (eol < 0 || space < 0 || space > eol) continue;
    const seq = parseWhole(raw.slice(0, space));
    const crc = parseWhole(raw.slice(space + 1, eol));
    const text = raw.slice(eol + 1);
    if (seq < 0 || crc !== checksum(text)) continue;
    if (best === null || seq > best.seq) best = { seq, copy, text };
  }
  return best;
}

/** State documents as pairs of Storage files (a single `ota-<name>` file of an older version is still read). */
export function storageState(storage: EspruinoStorage = require('Storage')): StateStore {
  return {
    async read(name) {
      const n = newest(storage, name);
      if (n !== null) return n.text;
      const old = storage.read('ota-' + name);
      return old === undefined ? null : old;
    },
    async write(name, text) {
      const n = newest(storage, name);
      const seq = n === null ? 1 : n.seq + 1;
      storage.write(copyName(name, n === null ? 0 : 1 - n.copy), seq + ' ' + checksum(text) + '\n' + text);
    },
    async remove(name) {
      storage.erase(copyName(name, 0));
      storage.erase(copyName(name, 1));
      storage.erase('ota-' + name);
    },
  };
}
