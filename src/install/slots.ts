/** The slot interface: where firmware images live, two A/B slots written by offset and read back. */
import type { Hasher } from '../platform/interfaces.js';

/** The two A/B slots. */
export type SlotName = 'a' | 'b';

/** A slot opened for writing. */
export interface SlotWriter {
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes everything written so far durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Where firmware images live: two slots, written by offset, read back for verification. */
export interface SlotStorage {
  /** Largest image a slot can take now, in bytes: its fixed size, or the free space where a slot grows; undefined when unbounded. */
  capacity(slot: SlotName): number | undefined;
  /** Opens a slot for writing an image of `size` bytes, keeping bytes already there (for resume). */
  open(slot: SlotName, size: number): Promise<SlotWriter>;
  /**
   * Reads up to `length` bytes at `offset`. Given `into` (at least `length` bytes), a platform may
   * read into it and return a view of it, sparing an allocation per read; otherwise the result is
   * a fresh array the caller may keep.
   */
  read(slot: SlotName, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Bytes to read at a time when reading a slot back: large enough to be fast, small enough for the device's memory. */
  readSize: number;
  /**
   * True when `read` returns the bytes where they lie, without a copy (Espruino's memory-mapped
   * Storage). A download then writes each piece of the body straight into the slot and checks
   * each chunk's CRC-32 there, so it holds no chunk buffer; a download that stops mid-chunk
   * resumes after the bytes already written.
   */
  inPlace?: boolean;
  /** Where the slot is, for health checks (a path on Node). */
  locate(slot: SlotName): string;
  /**
   * SHA-256 (hex) of the slot's first `size` bytes, computed where they lie (Espruino hashes its
   * memory-mapped Storage file without copying it). When present, a download hashes the written
   * slot once at the end instead of each chunk as it arrives, which on a board with a one-shot
   * SHA-256 would hold the whole image in RAM.
   */
  sha256?(slot: SlotName, size: number): Promise<string>;
  /**
   * Makes a verified image runnable before the switch: `"tar"` unpacks the bundle into the slot's
   * directory (then `locate` names that directory); a plain image removes a directory left by an
   * earlier bundle. Platforms without it install plain images only.
   */
  prepare?(slot: SlotName, format: 'tar' | undefined): Promise<void>;
}

/**
 * The digest (hex) of the first `size` bytes of a slot, read back through one buffer: a new buffer
 * per read is garbage V8 frees late (hashing a 256 MiB file slot in fresh 1 MiB buffers raised an
 * update's peak RSS from 57 to 92 MiB). Storage that cannot read into it returns its own arrays.
 */
export async function hashSlot(slots: SlotStorage, slot: SlotName, size: number, hasher: Hasher): Promise<string> {
  const buf = new Uint8Array(Math.min(slots.readSize, size));
  for (let offset = 0; offset < size; offset += slots.readSize) {
    const data = await slots.read(slot, offset, Math.min(slots.readSize, size - offset), buf);
    if (data.length === 0) break;
    hasher.update(data);
  }
  return hasher.digest();
}
