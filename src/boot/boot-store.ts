/**
 * The boot state on disk: one atomic write per transition, so a power cut leaves either the old or
 * the new state; then the boot selector is told.
 */
import { otaError } from '../errors.js';
import type { SlotName } from '../install/slots.js';
import type { StateStore } from '../platform/interfaces.js';
import type { BootSelector } from './boot-selector.js';
import { copy, otherSlot, type BootState, type SlotImage } from './boot-state.js';

/** Name of the boot state in the state store. */
export const BOOT_STATE = 'boot.json';

function isSlotName(v: unknown): v is SlotName {
  return v === 'a' || v === 'b';
}

function isImage(v: unknown): boolean {
  if (v === null) return true;
  const i = v as SlotImage;
  return typeof i === 'object' && typeof i.version === 'string' && typeof i.sha256 === 'string' && typeof i.size === 'number' && (i.system_boot_id === undefined || typeof i.system_boot_id === 'string');
}

/** Reads the boot state; null when there is none yet. A corrupt state is an error, never guessed at. */
export async function loadBootState(store: StateStore): Promise<BootState | null> {
  const text = await store.read(BOOT_STATE);
  if (text === null) return null;
  let s: BootState;
  try {
    s = JSON.parse(text) as BootState;
  } catch (e) {
    throw otaError('BOOT_STATE', 'boot', BOOT_STATE + ' is not valid JSON');
  }
  const ok =
    typeof s === 'object' && s !== null && typeof s.seq === 'number' && isSlotName(s.booted) && isSlotName(s.confirmed) &&
    (s.trial === null || isSlotName(s.trial)) && typeof s.attempts === 'number' && typeof s.max_attempts === 'number' &&
    (s.state === 'confirmed' || s.state === 'trial' || s.state === 'reverted') && typeof s.slots === 'object' && s.slots !== null &&
    isImage(s.slots.a) && isImage(s.slots.b) && Array.isArray(s.rejected) && typeof s.last_error === 'string';
  if (!ok) throw otaError('BOOT_STATE', 'boot', BOOT_STATE + ' is malformed');
  return s;
}

/**
 * Persists a transition (atomically, through the store), then tells the boot selector. A cut
 * between the two is repaired by the next transition, which applies the whole state again.
 */
export async function saveBootState(store: StateStore, selector: BootSelector, s: BootState): Promise<BootState> {
  const n = copy(s);
  n.seq = s.seq + 1;
  await store.write(BOOT_STATE, JSON.stringify(n, null, 2));
  const next = n.trial ?? n.confirmed;
  const other = n.slots[otherSlot(next)];
  await selector.apply({
    booted: n.booted,
    next,
    trial: n.trial !== null,
    attemptsLeft: n.trial === null ? n.max_attempts : n.max_attempts - n.attempts,
    confirmed: n.confirmed,
    maxAttempts: n.max_attempts,
    otherBootable: other !== null && n.rejected.indexOf(other.sha256) < 0,
  });
  return n;
}
