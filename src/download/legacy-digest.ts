/**
 * The SHA-1 or MD5 that a server publishes instead of a SHA-256 (older hawkBit), computed as the
 * image arrives: the download's SHA-256 hashers also feed one of the platform's `digest`, so the
 * chunks a resume reads back and the ones that travel are hashed once, and the slot is not read
 * again after the download. Only the Node transfer stage (transfers.ts) streams it; the
 * Espruino build leaves this module out.
 */
import type { SizedRelease } from '../check/release.js';
import { discardJournal } from './journal.js';
import { otaError } from '../errors.js';
import { hashSlot, type SlotName } from '../install/slots.js';
import type { Hasher, Platform } from '../platform/interfaces.js';

/** The digest the last download of a release computed as its image arrived, for {@link checkDigest}. */
let streamed: { release: SizedRelease; hex: string } | null = null;

function nameOf(release: SizedRelease): string {
  return release.digest!.algorithm === 'sha1' ? 'SHA-1' : 'MD5';
}

/** A hasher of `release`'s published digest; `DIGEST_MISMATCH` where the platform has none. */
function legacyHasher(platform: Pick<Platform, 'digest'>, release: SizedRelease): Hasher {
  if (!platform.digest) {
    throw otaError('DIGEST_MISMATCH', 'verify', 'release ' + release.version + ' is published with ' + nameOf(release) + ' only, which this platform cannot compute');
  }
  return platform.digest(release.digest!.algorithm);
}

/**
 * `ctx` for the download of `release` (published with a digest): every SHA-256 hasher it makes
 * also computes the digest, which the last one to finish (the image that landed) keeps for
 * {@link checkDigest}. Throws at once, before anything is downloaded, where the platform cannot
 * compute the digest.
 */
export function digestingContext<C extends Pick<Platform, 'sha256' | 'digest'>>(ctx: C, release: SizedRelease): C {
  let first: Hasher | null = legacyHasher(ctx, release);
  streamed = null;
  const sha256 = (): Hasher => {
    const image = ctx.sha256();
    const legacy = first ?? legacyHasher(ctx, release);
    first = null;
    return {
      update(data) {
        image.update(data);
        legacy.update(data);
      },
      digest() {
        streamed = { release, hex: legacy.digest() };
        return image.digest();
      },
    };
  };
  return Object.assign({}, ctx, { sha256 });
}

/**
 * Checks the image in `slot` against `digest`: the one computed during its download, else (slots
 * that hash in place make no hasher) read back from the slot. Returns what verified it, for the log.
 */
export async function checkDigest(platform: Platform, slot: SlotName, release: SizedRelease, digest: { algorithm: 'sha1' | 'md5'; hex: string }): Promise<string> {
  const actual = streamed !== null && streamed.release === release ? streamed.hex : await hashSlot(platform.slots, slot, release.size, legacyHasher(platform, release));
  streamed = null;
  if (actual !== digest.hex) {
    await discardJournal(platform.state);
    throw otaError('DIGEST_MISMATCH', 'verify', 'downloaded image has ' + nameOf(release) + ' ' + actual + ' but the server announced ' + digest.hex, { retryable: true });
  }
  return nameOf(release) + ' ' + actual + ' (the server published no SHA-256)';
}
