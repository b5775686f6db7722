/** CRC-32 and SHA-256 for Espruino: a table CRC in JavaScript, and the board's crypto.SHA256. */
import type { Hasher } from '../interfaces.js';

let table: Int32Array | null = null;

/** CRC-32 (IEEE) of `data`, continuing from `previous`; unsigned. */
export function crc32(data: Uint8Array, previous?: number): number {
  if (table === null) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = (previous === undefined ? 0 : previous) ^ -1;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/**
 * SHA-256 with the board's `require("crypto")`, which hashes in one call: the pieces are kept as
 * flat strings and hashed together at the end. Boards without crypto cannot verify images.
 */
export function sha256(): Hasher {
  const pieces: string[] = [];
  return {
    update(data) {
      // A copy first: E.toString of a view spanning its whole buffer returns that buffer's own
      // storage, which the downloader refills with the next chunk.
      pieces.push(E.toString(new Uint8Array(data)));
    },
    digest() {
      const all = E.toString(pieces as never);
      const d = new Uint8Array(require('crypto').SHA256(all));
      let hex = '';
      for (let i = 0; i < d.length; i++) hex += (d[i]! < 16 ? '0' : '') + d[i]!.toString(16);
      return hex;
    },
  };
}
