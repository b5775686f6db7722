/** File-backed A/B slots for Node boards: `<dir>/a.bin` and `<dir>/b.bin`. */
import { closeSync, fsync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
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
      let fd: number;
      try {
        fd = openSync(path(slot), 'r+'); // keeps what an interrupted download left
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        fd = openSync(path(slot), 'w+');
      }
      ftruncateSync(fd, size);
      return {
        // Synchronous writes: a chunk lands in the page cache in tens of microseconds, where a
        // thread-pool round trip per chunk would cost more than the write and stall the socket.
        async write(offset, data) {
          let done = 0;
          while (done < data.length) done += writeSync(fd, data, done, data.length - done, offset + done);
        },
        // fsync runs on the thread pool, beside the download.
        sync: () => new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve()))),
        async close() {
          closeSync(fd);
        },
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
