/** The boot selector interface: how boot control's decisions reach the platform's boot mechanism. */
import type { SlotName } from '../install/slots.js';

/** What boot control tells the boot mechanism after every saved transition. */
export interface SelectorState {
  /** Slot running now. */
  booted: SlotName;
  /** Slot to boot next: the trial slot, else the confirmed one. */
  next: SlotName;
  /** True while `next` is on trial. */
  trial: boolean;
  /** Boot attempts `next` has left before the bootloader should fall back. */
  attemptsLeft: number;
  /** The fallback slot. */
  confirmed: SlotName;
  /** Boot attempts a slot is given (`boot_attempts`). */
  maxAttempts: number;
  /** True when the slot other than `next` holds an image that may boot (not being written, not rejected). */
  otherBootable: boolean;
}

/** What a boot loader that chooses the slot itself says about this boot. */
export interface LoaderView {
  /** Slot that booted (RAUC: `rauc.slot=` on the kernel command line). */
  slot: SlotName;
  /** Slot the boot loader tries first. */
  next: SlotName;
  /** Tries the boot loader still gives `next`; 0 when it gave up on it. */
  left: number;
  /** Tries one `apply` gives a slot (GRUB: one); absent: `attemptsLeft` of them (U-Boot's counter). */
  triesPerApply?: number;
}

/**
 * Tells the platform's boot mechanism what boot control decided: a `current` link for Node
 * applications, bootloader variables (U-Boot `fw_setenv`, GRUB `grub-editenv`) for boards that
 * boot from a raw slot. Called after every saved transition with the new state.
 */
export interface BootSelector {
  apply(state: SelectorState): Promise<void>;
  /**
   * Boot loaders that choose the slot themselves (U-Boot, GRUB) say what booted: the agent's own
   * record is then only what it asked for. Absent where the agent's boot step chooses (the
   * `current` link, memory, Espruino's `.boot0`); null when the boot loader names no slot.
   */
  booted?(): Promise<LoaderView | null>;
}
