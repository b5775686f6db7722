/**
 * Slots on files for Node boards: `<dir>/a.bin` and `<dir>/b.bin`, resized to each image, with a
 * bundle unpacked into `<dir>/a/` or `<dir>/b/`; or a pair of raw block devices (partitions) of
 * fixed size, written in place. File I/O goes through the FileOps seam
 * (src/platform/node/file-ops.ts), which the power-cut tests record; a bundle's directory is made
 * by platform/node/bundle.ts (fsynced, then renamed into place).
 */
import { dirname, join } from 'node:path';
import { otaError } from '../errors.js';
import { unpackBundle } from '../platform/node/bundle.js';
import { nodeFileOps, type FileOps } from '../platform/node/file-ops.js';
import type { SlotName, SlotStorage, SlotWriter } from './slots.js';

/** Slot files in `dir` (created when first written); `capacity` bounds an image (unlimited when 0 or absent). */
export function fileSlots(dir: string, capacity?: number, ops: FileOps = nodeFileOps): SlotStorage {
  const slots = pathSlots({ a: join(dir, 'a.bin'), b: join(dir, 'b.bin') }, capacity || undefined, true, ops);
  const image = slots.locate;
  // A bundle's directory, beside the archive it was unpacked from (kept: the base of the next delta).
  const bundle = (slot: SlotName) => join(dir, slot);
  return Object.assign(slots, {
    locate: (slot: SlotName) => (ops.exists(bundle(slot)) ? bundle(slot) : image(slot)),
    async prepare(slot: SlotName, format: 'tar' | undefined) {
      if (format === 'tar') await unpackBundle(image(slot), bundle(slot), ops);
      else ops.removeTree(bundle(slot));
    },
  });
}

/**
 * Raw slots: two partitions (or, in tests, two files) of `capacity` bytes. They are never
 * created, truncated or resized: an image is written over the start of the partition.
 */
export function blockSlots(paths: { a: string; b: string }, capacity: number, ops: FileOps = nodeFileOps): SlotStorage {
  return pathSlots(paths, capacity, false, ops);
}

/** Bytes kept free beside a file slot, for the state files and the log. */
const RESERVE_BYTES = 1024 * 1024;

/**
 * The largest image a file slot can take now: the free space of its file system (plus what the
 * slot file already holds, which is reused), less a reserve; within the configured capacity.
 * Known before anything is allocated, so a huge announced size is refused, not made sparse.
 */
function roomFor(ops: FileOps, path: string, capacity: number | undefined): number {
  const room = Math.max(0, ops.freeBytes(dirname(path)) + ops.size(path) - RESERVE_BYTES);
  return capacity === undefined ? room : Math.min(capacity, room);
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function diskFull(slot: SlotName, size: number, free: number) {
  return otaError('DISK_FULL', 'download', 'the disk is full: slot ' + slot + ' needs ' + size + ' bytes for the image and ' + free + ' bytes are free; the partial image was removed and the next check tries again');
}

function pathSlots(paths: { a: string; b: string }, capacity: number | undefined, resize: boolean, ops: FileOps): SlotStorage {
  /** Reads from `offset` of the file into `buf`; the bytes read (0 when there is no file). */
  const readAt = (path: string, offset: number, buf: Uint8Array): number => {
    let fd: number;
    try {
      fd = ops.open(path, 'r');
    } catch (e) {
      if (code(e) === 'ENOENT') return 0;
      throw e;
    }
    try {
      return ops.read(fd, buf, offset);
    } finally {
      ops.close(fd);
    }
  };
  /** A new slot file: its directory entry (and the directory's) made durable before any data, so a synced image is never lost with its name. */
  const create = async (path: string) => {
    ops.mkdir(dirname(path));
    await ops.fsyncDir(dirname(dirname(path)));
    const fd = ops.open(path, 'w+');
    await ops.fsyncDir(dirname(path));
    return fd;
  };
  return {
    // Raw slots are partitions of a fixed size; file slots grow into the free space.
    capacity: (slot) => (resize ? roomFor(ops, paths[slot], capacity) : capacity),
    readSize: 1024 * 1024,
    locate: (slot) => paths[slot],

    async open(slot: SlotName, size: number): Promise<SlotWriter> {
      const path = paths[slot];
      let fd: number;
      try {
        fd = ops.open(path, 'r+'); // keeps what an interrupted download left
      } catch (e) {
        if (code(e) !== 'ENOENT' || !resize) throw e;
        fd = await create(path);
      }
      /** Frees what the slot file holds (nothing to free in a partition) and says how much room there was. */
      const full = (): never => {
        if (resize) ops.truncate(fd, 0);
        throw diskFull(slot, size, ops.freeBytes(dirname(path)));
      };
      if (resize) ops.truncate(fd, size);
      return {
        // Synchronous writes: a chunk lands in the page cache in tens of microseconds, where a
        // thread-pool round trip per chunk would cost more than the write and stall the socket.
        async write(offset, data) {
          if (capacity !== undefined && offset + data.length > capacity) throw new Error('write past the end of slot ' + slot + ' (' + capacity + ' bytes)');
          try {
            ops.write(fd, data, offset);
          } catch (e) {
            if (code(e) === 'ENOSPC') full();
            throw e;
          }
        },
        // fsync runs on the thread pool, beside the download.
        sync: () => ops.fsync(fd),
        async close() {
          ops.close(fd);
        },
      };
    },

    async read(slot: SlotName, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
      const buf = into ? into.subarray(0, length) : Buffer.alloc(length);
      return buf.subarray(0, readAt(paths[slot], offset, buf));
    },

  };
}
