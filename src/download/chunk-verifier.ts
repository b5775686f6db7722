/**
 * Image verification: the CRC-32 of each chunk as it arrives, and the SHA-256 of the whole image,
 * computed over the chunks in order as they are accepted (so no second pass over the slot), or
 * by the slot storage once the image is written where it hashes in place.
 */
import { otaError } from '../errors.js';
import type { Hasher } from '../platform/interfaces.js';
import type { SizedRelease } from '../check/release.js';

/** Checks one release's chunks in order, then the whole image. */
export interface ImageVerifier {
  /** True when chunk `index` has the published CRC-32; then it is added to the image hash. Chunks must come in order. */
  accept(index: number, data: Uint8Array): boolean;
  /**
   * The image's SHA-256 once every chunk is accepted (`computed` when the verifier has no hasher:
   * the slot's, hashed in place); throws `SHA256_MISMATCH` when the release published another one.
   */
  finish(computed?: string): string;
}

/** Number of chunks of a release. */
export function chunkCount(r: SizedRelease): number {
  return Math.ceil(r.size / r.chunkSize);
}

/** Length of chunk `index` of a release. */
export function chunkLength(r: SizedRelease, index: number): number {
  return Math.min(r.chunkSize, r.size - index * r.chunkSize);
}

/** A verifier for `release`, hashing with `hasher` (null: the digest comes to `finish`) and checking chunks with `crc32`. */
export function imageVerifier(release: SizedRelease, hasher: Hasher | null, crc32: (data: Uint8Array) => number): ImageVerifier {
  let expected = 0;
  const chunks = chunkCount(release);
  const crcs = release.chunkCrc32;
  return {
    accept(index, data) {
      if (index !== expected) throw otaError('INTERNAL', 'verify', 'chunk ' + index + ' offered out of order (expected ' + expected + ')');
      if (data.length !== chunkLength(release, index) || (crcs !== null && crc32(data) !== crcs[index])) return false;
      if (hasher !== null) hasher.update(data);
      expected++;
      return true;
    },
    finish(computed) {
      if (expected !== chunks) throw otaError('INTERNAL', 'verify', 'image verified before its last chunk');
      const actual = hasher !== null ? hasher.digest() : computed;
      if (typeof actual !== 'string' || actual.length !== 64) throw otaError('INTERNAL', 'verify', 'no SHA-256 was computed for the image');
      if (release.sha256 !== null && actual !== release.sha256) {
        throw otaError('SHA256_MISMATCH', 'verify', 'downloaded image has SHA-256 ' + actual + ' but the release announced ' + release.sha256, { retryable: true });
      }
      return actual;
    },
  };
}
