/**
 * Boot control: which slot boots, trial boots, confirmation and revert, as pure transitions on a
 * {@link BootState} (boot-store.ts persists them). See docs/boot-states.md.
 */
import { otaError } from '../errors.js';
import type { SlotName } from '../install/slots.js';
import type { LoaderView } from './boot-selector.js';

/** The image a slot holds. */
export interface SlotImage {
  version: string;
  sha256: string;
  size: number;
  /**
   * The operating system's boot in which the image was written and verified
   * (`Platform.systemBootId`); absent where the platform has none, and in older boot states.
   */
  system_boot_id?: string;
}

/** State of the running slot: confirmed (known good), on trial, or brought back after a failed trial. */
export type BootStateName = 'confirmed' | 'trial' | 'reverted';

/** The persisted boot state. */
export interface BootState {
  /** Incremented by every saved transition. */
  seq: number;
  /** Slot running now. */
  booted: SlotName;
  /** Last known-good slot: what boots when a trial fails. */
  confirmed: SlotName;
  /** Slot installed and awaiting (or undergoing) its trial boot. */
  trial: SlotName | null;
  /** Trial boots started for `trial`. */
  attempts: number;
  /** Trial boots allowed before reverting. */
  max_attempts: number;
  state: BootStateName;
  slots: { a: SlotImage | null; b: SlotImage | null };
  /** SHA-256 of images that failed their trial; never installed again. */
  rejected: string[];
  /** Why the last trial failed; empty when none did. */
  last_error: string;
}

/** What a device reports about what it runs. */
export interface DeviceStatus {
  /** Slot running now. */
  slot: SlotName;
  version: string;
  /** SHA-256 recorded for the running slot's image (empty when ota-client did not install it). */
  sha256: string;
  state: BootStateName;
  /** Slot installed and waiting for its trial boot, if any. */
  pending: SlotName | null;
  /** Why the last trial failed, if one did. */
  last_error: string;
}

/** The {@link DeviceStatus} of a boot state. */
export function describeBoot(s: BootState): DeviceStatus {
  const image = s.slots[s.booted];
  return {
    slot: s.booted,
    version: image ? image.version : '',
    sha256: image ? image.sha256 : '',
    state: s.state,
    pending: s.trial !== null && s.trial !== s.booted ? s.trial : null,
    last_error: s.last_error,
  };
}

/** The other slot. */
export function otherSlot(slot: SlotName): SlotName {
  return slot === 'a' ? 'b' : 'a';
}

/** A fresh state: `image` confirmed in slot a. */
export function initialBootState(image: SlotImage, maxAttempts: number): BootState {
  return { seq: 0, booted: 'a', confirmed: 'a', trial: null, attempts: 0, max_attempts: maxAttempts, state: 'confirmed', slots: { a: image, b: null }, rejected: [], last_error: '' };
}

/** A deep copy: transitions never change the state they are given. */
export function copy(s: BootState): BootState {
  return JSON.parse(JSON.stringify(s)) as BootState;
}

function refuse(message: string): never {
  throw otaError('BOOT_STATE', 'install', message);
}

/**
 * The slot an update may be written to: the one neither running nor the known-good fallback.
 * Refuses while the running slot is on trial (it must be confirmed or reverted first).
 */
export function updateTarget(s: BootState): SlotName {
  if (s.state === 'trial') {
    throw otaError('TRIAL_PENDING', 'install', 'slot ' + s.booted + ' is running on trial; confirm it (or let it revert) before installing another update');
  }
  const target = otherSlot(s.booted);
  if (target === s.confirmed) refuse('slot ' + target + ' is the confirmed fallback and cannot be overwritten');
  return target;
}

/** Before the first byte is written to `target`: it no longer holds a bootable image. */
export function beginWrite(s: BootState, target: SlotName): BootState {
  if (target === s.booted || target === s.confirmed) refuse('refusing to write slot ' + target + ': it is running or the fallback');
  const n = copy(s);
  n.slots[target] = null;
  if (n.trial === target) {
    n.trial = null;
    n.attempts = 0;
  }
  return n;
}

/** After `target` was written and verified: boot it on trial at the next boot. */
export function markInstalled(s: BootState, target: SlotName, image: SlotImage, maxAttempts: number): BootState {
  if (target === s.booted || target === s.confirmed) refuse('refusing to install into slot ' + target + ': it is running or the fallback');
  const n = copy(s);
  n.slots[target] = image;
  n.trial = target;
  n.attempts = 0;
  n.max_attempts = maxAttempts;
  return n;
}

/**
 * What the bootloader does at every boot: start (or retry) a trial, or, once the trial has used
 * all its attempts without being confirmed, bring the confirmed slot back.
 */
export function bootSelect(s: BootState): BootState {
  const n = copy(s);
  if (n.trial === null) {
    n.booted = n.confirmed;
    if (n.state === 'trial') n.state = 'confirmed';
    return n;
  }
  if (n.attempts >= n.max_attempts) {
    const failed = n.slots[n.trial];
    return revert(n, 'slot ' + n.trial + ' (' + (failed ? failed.version : '?') + ') was not confirmed within ' + n.max_attempts + ' boot attempts', true);
  }
  n.attempts++;
  n.booted = n.trial;
  n.state = 'trial';
  return n;
}

/**
 * The boot step on a board whose boot loader chose the slot (`view`): what it booted is what
 * runs. A trial slot that came up starts (or retries) its trial as in {@link bootSelect}. One
 * that did not come up is never recorded as running, so it cannot be confirmed: it used the tries
 * the boot loader gave it, or, when the boot loader was never pointed at it (a cut before its
 * environment was written), one attempt. When the boot loader gave up on the confirmed slot and
 * fell back to the other, that one becomes the confirmed slot if its image may run.
 */
export function bootFromLoader(s: BootState, view: LoaderView): BootState {
  if (s.trial !== null && view.slot === s.trial) {
    const n = bootSelect(s);
    n.booted = view.slot;
    return n;
  }
  const n = copy(s);
  n.booted = view.slot;
  if (n.state === 'trial') n.state = 'confirmed';
  if (s.trial !== null) {
    const gaveUp = view.next === s.trial && view.left === 0;
    n.attempts += gaveUp ? (view.triesPerApply ?? n.max_attempts - n.attempts) : 1;
    if (n.attempts < n.max_attempts) return n;
    const failed = n.slots[s.trial];
    const why = gaveUp ? 'the boot loader gave up on it after its tries' : 'no boot reached it in ' + n.max_attempts + ' attempts';
    return revert(n, 'slot ' + s.trial + ' (' + (failed ? failed.version : '?') + ') did not come up: ' + why + '; slot ' + view.slot + ' runs', false);
  }
  const image = n.slots[view.slot];
  if (view.slot !== s.confirmed && view.next === s.confirmed && view.left === 0 && image !== null && n.rejected.indexOf(image.sha256) < 0) {
    n.confirmed = view.slot;
    n.state = 'reverted';
    n.last_error = 'slot ' + s.confirmed + ' did not come up; the boot loader fell back to slot ' + view.slot;
  }
  return n;
}

/**
 * Whether confirming `image` must hash its slot again: yes unless the operating system has not
 * restarted since the image was written (`bootId`, null when unknown). In the same boot the bytes
 * were hashed as they were written and fsynced, and reading them again reads the page cache, not
 * the medium; after a restart it reads the medium and catches a slot that decayed or was written
 * wrong.
 */
export function confirmNeedsHash(image: SlotImage, bootId: string | null): boolean {
  return bootId === null || image.system_boot_id !== bootId;
}

/** The running trial slot is healthy: it becomes the confirmed slot. */
export function confirmBooted(s: BootState): BootState {
  if (s.state !== 'trial' || s.trial !== s.booted) throw otaError('BOOT_STATE', 'boot', 'nothing to confirm: slot ' + s.booted + ' is ' + s.state);
  const n = copy(s);
  n.confirmed = n.booted;
  n.trial = null;
  n.attempts = 0;
  n.state = 'confirmed';
  n.last_error = '';
  return n;
}

/** The trial failed (`reason`): its image is rejected and the confirmed slot boots next. */
export function rejectTrial(s: BootState, reason: string): BootState {
  if (s.trial === null) throw otaError('BOOT_STATE', 'boot', 'nothing to revert: no slot is on trial');
  return revert(copy(s), reason, false);
}

function revert(n: BootState, reason: string, reboot: boolean): BootState {
  const failed = n.trial === null ? null : n.slots[n.trial];
  if (failed && n.rejected.indexOf(failed.sha256) < 0) n.rejected.push(failed.sha256);
  n.trial = null;
  n.attempts = 0;
  n.state = 'reverted';
  n.last_error = reason;
  if (reboot) n.booted = n.confirmed;
  return n;
}


/**
 * The operator goes back from the running, confirmed version to the image in the other slot
 * (`ota device rollback`): the running image is rejected, so the next check does not install it
 * again, and the other slot becomes the confirmed one that boots next.
 */
export function rollBack(s: BootState, reason: string): BootState {
  const other = otherSlot(s.booted);
  const image = s.slots[other];
  if (s.state === 'trial') return rejectTrial(s, reason);
  if (s.trial !== null) throw otaError('BOOT_STATE', 'boot', 'slot ' + other + ' holds an update waiting for its trial boot, not an older version to go back to');
  if (image === null) throw otaError('BOOT_STATE', 'boot', 'nothing to roll back to: slot ' + other + ' holds no complete image');
  const n = copy(s);
  const running = n.slots[n.booted];
  if (running && running.sha256 !== '' && n.rejected.indexOf(running.sha256) < 0) n.rejected.push(running.sha256);
  n.confirmed = other;
  n.state = 'reverted';
  n.last_error = reason;
  return n;
}
