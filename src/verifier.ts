/** Whole-image verification: the SHA-256 of what the slot holds, read back, against the release. */
import { otaError } from './errors.js';
import type { Hasher, SlotName, SlotStorage } from './platform.js';

/** SHA-256 (hex) of the first `size` bytes of a slot. */
export async function hashSlot(slots: SlotStorage, slot: SlotName, size: number, hasher: Hasher): Promise<string> {
  for (let offset = 0; offset < size; offset += slots.readSize) {
    const data = await slots.read(slot, offset, Math.min(slots.readSize, size - offset));
    if (data.length === 0) break;
    hasher.update(data);
  }
  return hasher.digest();
}

/**
 * Checks that a slot holds exactly the published image. Reading back (rather than hashing the
 * network stream) verifies what will boot, across any number of resumed sessions.
 */
export async function verifySlot(slots: SlotStorage, slot: SlotName, size: number, sha256: string, hasher: Hasher): Promise<void> {
  const actual = await hashSlot(slots, slot, size, hasher);
  if (actual !== sha256) {
    throw otaError('SHA256_MISMATCH', 'verify', 'image in slot ' + slot + ' has SHA-256 ' + actual + ' but the release announced ' + sha256, { retryable: true });
  }
}
