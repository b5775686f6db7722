/** File-backed A/B slots for Node boards: `<dir>/a.bin` and `<dir>/b.bin`. */
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SlotName, SlotStorage, SlotWriter } from '../platform.js';

/** Options of {@link fileSlots}. */
export interface FileSlotsOptions {
  /** Largest image a slot accepts, in bytes (a partition's size); unlimited by default. */
  capacity?: number;
}

/** Creates slot storage in `dir` (created if missing). */
export function fileSlots(dir: string, options: FileSlotsOptions = {}): SlotStorage {
  mkdirSync(dir, { recursive: true });
  const path = (slot: SlotName) => join(dir, slot + '.bin');
  return {
    capacity: () => options.capacity,
    readSize: 1024 * 1024,
    locate: path,

    async open(slot: SlotName, size: number): Promise<SlotWriter> {
      let fh: FileHandle;
      try {
        fh = await open(path(slot), 'r+'); // keeps what an interrupted download left
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        fh = await open(path(slot), 'w+');
      }
      await fh.truncate(size);
      return {
        async write(offset, data) {
          let done = 0;
          while (done < data.length) {
            const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
            done += bytesWritten;
          }
        },
        sync: () => fh.sync(),
        close: () => fh.close(),
      };
    },

    async read(slot: SlotName, offset: number, length: number): Promise<Uint8Array> {
      let fh: FileHandle;
      try {
        fh = await open(path(slot), 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array(0);
        throw e;
      }
      try {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, offset);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
  };
}
