/**
 * Espruino's Storage in memory, for tests that run the Espruino adapters on Node. Semantics
 * transcribed from espruino/Espruino src/jsflash.c and the Storage reference: `write(name, data)`
 * (and `write(name, data, 0, size)`) erases the existing file, then creates the new one (erased
 * flash reads 0xFF) and programs its data; `write(name, data, offset)` with offset > 0 programs
 * bytes of an existing file, where flash can only clear bits (new = old AND data). Every erase,
 * create and program is recorded, so that the power-cut harness can stop the flash after any of
 * them, or halfway through a program (a torn write).
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';

/** One recorded flash operation. */
export type FlashOp = { op: 'erase'; name: string } | { op: 'create'; name: string; size: number } | { op: 'program'; name: string; offset: number; data: Buffer };

export type Flash = Map<string, Buffer>;

function bytes(data: string | Uint8Array): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
}

/** Applies one operation to `flash`; `part` (0..1] programs only the first part of the data. */
export function applyFlashOp(flash: Flash, o: FlashOp, part = 1): void {
  if (o.op === 'erase') flash.delete(o.name);
  else if (o.op === 'create') flash.set(o.name, Buffer.alloc(o.size, 0xff));
  else {
    const file = flash.get(o.name);
    if (!file) throw new Error('Storage: program of missing file ' + o.name);
    const n = Math.min(Math.ceil(o.data.length * part), file.length - o.offset);
    for (let i = 0; i < n; i++) file[o.offset + i]! &= o.data[i]!;
  }
}

/** The Storage module over `flash`, recording into `log` when given. */
export function emulatedStorage(flash: Flash, log: FlashOp[] | null) {
  const run = (o: FlashOp) => {
    if (log) log.push(o.op === 'program' ? { ...o, data: Buffer.from(o.data) } : o);
    applyFlashOp(flash, o);
  };
  return {
    read(name: string, offset = 0, length?: number): string | undefined {
      const f = flash.get(name);
      if (!f) return undefined;
      return f.subarray(offset, length === undefined ? f.length : offset + length).toString('latin1');
    },
    readJSON(name: string): unknown {
      const f = flash.get(name);
      return f ? JSON.parse(f.toString('latin1')) : undefined;
    },
    write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean {
      const b = bytes(data);
      if (offset === undefined || offset === 0) {
        run({ op: 'erase', name });
        run({ op: 'create', name, size: size ?? b.length });
        run({ op: 'program', name, offset: 0, data: b });
      } else run({ op: 'program', name, offset, data: b });
      return true;
    },
    writeJSON(name: string, data: unknown): boolean {
      return this.write(name, JSON.stringify(data));
    },
    erase(name: string): void {
      run({ op: 'erase', name });
    },
    getFree: () => 1 << 20,
  };
}

/** Installs the `E` helpers the Storage adapters use: Storage strings to bytes, and the board's CRC-32 (IEEE, unsigned). */
export function installE(): void {
  (globalThis as Record<string, unknown>).E = {
    toUint8Array: (s: string | Uint8Array) => new Uint8Array(bytes(s)),
    // Espruino's (jswrap_espruino_toArrayBuffer, src/jswrap_espruino.c) refers to the string's
    // bytes (no copy); a copy here, as Node's strings are not bytes.
    toArrayBuffer: (s: string) => new Uint8Array(bytes(s)).buffer,
    CRC32: (data: string | Uint8Array) => zlib.crc32(bytes(data)),
  };
}

export function flashDigest(flash: Flash): string {
  const h = createHash('sha256');
  for (const name of [...flash.keys()].sort()) h.update(name + '\0').update(flash.get(name)!).update('\0');
  return h.digest('hex');
}

export function copyFlash(flash: Flash): Flash {
  return new Map([...flash].map(([k, v]) => [k, Buffer.from(v)]));
}
