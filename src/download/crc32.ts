/** CRC-32 (IEEE), incremental, as unsigned 32-bit numbers. */
import CRC32 from 'crc-32';

/** CRC-32 of `data`, continuing from `previous` (the CRC of the bytes before it). */
export function crc32(data: Uint8Array, previous?: number): number {
  return CRC32.buf(data, previous === undefined ? undefined : previous | 0) >>> 0;
}
