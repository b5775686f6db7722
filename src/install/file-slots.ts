/**
 * Slots on files for Node boards: `<dir>/a.bin` and `<dir>/b.bin`, resized to each image; or a
 * pair of raw block devices (partitions) of fixed size, written in place.
 */
import { closeSync, fsync, ftruncateSync, mkdirSync, openSync, statfsSync, statSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SlotName, SlotStorage, SlotWriter } from './slots.js';

/** Slot files in `dir` (created when first written); `capacity` bounds an image (unlimited when 0 or absent). */
export function fileSlots(dir: string, capacity?: number): SlotStorage {
  return pathSlots({ a: join(dir, 'a.bin'), b: join(dir, 'b.bin') }, capacity || undefined, true);
}

/**
 * Raw slots: two partitions (or, in tests, two files) of `capacity` bytes. They are never
 * created, truncated or resized: an image is written over the start of the partition.
 */
export function blockSlots(paths: { a: string; b: string }, capacity: number): SlotStorage {
  return pathSlots(paths, capacity, false);
}

/** Bytes kept free beside a file slot, for the state files and the log. */
const RESERVE_BYTES = 1024 * 1024;

/**
 * The largest image a file slot can take now: the free space of its file system (plus what the
 * slot file already holds, which is reused), less a reserve; within the configured capacity.
 * Known before anything is allocated, so a huge announced size is refused, not made sparse.
 */
function roomFor(path: string, capacity: number | undefined): number {
  let dir = dirname(path);
  let fs: { bavail: number; bsize: number } | null = null;
  // The slot directory is created on first write: measure the nearest directory that exists.
  for (;;) {
    try {
      fs = statfsSync(dir);
      break;
    } catch (e) {
      if (dirname(dir) === dir) throw e;
      dir = dirname(dir);
    }
  }
  let current = 0;
  try {
    current = statSync(path).size;
  } catch {
    // no slot file yet
  }
  const room = Math.max(0, fs.bavail * fs.bsize + current - RESERVE_BYTES);
  return capacity === undefined ? room : Math.min(capacity, room);
}

function pathSlots(paths: { a: string; b: string }, capacity: number | undefined, resize: boolean): SlotStorage {
  return {
    // Raw slots are partitions of a fixed size; file slots grow into the free space.
    capacity: (slot) => (resize ? roomFor(paths[slot], capacity) : capacity),
    readSize: 1024 * 1024,
    locate: (slot) => paths[slot],

    async open(slot: SlotName, size: number): Promise<SlotWriter> {
      let fd: number;
      try {
        fd = openSync(paths[slot], 'r+'); // keeps what an interrupted download left
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !resize) throw e;
        mkdirSync(dirname(paths[slot]), { recursive: true });
        fd = openSync(paths[slot], 'w+');
      }
      if (resize) ftruncateSync(fd, size);
      return {
        // Synchronous writes: a chunk lands in the page cache in tens of microseconds, where a
        // thread-pool round trip per chunk would cost more than the write and stall the socket.
        async write(offset, data) {
          if (capacity !== undefined && offset + data.length > capacity) throw new Error('write past the end of slot ' + slot + ' (' + capacity + ' bytes)');
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
        fh = await open(paths[slot], 'r');
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
