/**
 * The SHA-1 or MD5 that a server publishes instead of a SHA-256 (older hawkBit): the written
 * image is read back from its slot and hashed with the platform's `digest`.
 */
import type { SizedRelease } from '../check/release.js';
import { discardJournal } from '../download/journal.js';
import { otaError } from '../errors.js';
import { hashSlot, type SlotName } from '../install/slots.js';
import type { Platform } from '../platform/interfaces.js';

/** Checks the image in `slot` against `digest`; returns what verified it, for the log. */
export async function checkDigest(platform: Platform, slot: SlotName, release: SizedRelease, digest: { algorithm: 'sha1' | 'md5'; hex: string }): Promise<string> {
  const name = digest.algorithm === 'sha1' ? 'SHA-1' : 'MD5';
  if (!platform.digest) {
    throw otaError('DIGEST_MISMATCH', 'verify', 'release ' + release.version + ' is published with ' + name + ' only, which this platform cannot compute');
  }
  const actual = await hashSlot(platform.slots, slot, release.size, platform.digest(digest.algorithm));
  if (actual !== digest.hex) {
    await discardJournal(platform.state);
    throw otaError('DIGEST_MISMATCH', 'verify', 'downloaded image has ' + name + ' ' + actual + ' but the server announced ' + digest.hex, { retryable: true });
  }
  return name + ' ' + actual + ' (the server published no SHA-256)';
}
