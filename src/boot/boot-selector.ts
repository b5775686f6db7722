/** The boot selector interface: how boot control's decisions reach the platform's boot mechanism. */
import type { SlotName } from '../install/slots.js';

/**
 * Tells the platform's boot mechanism what boot control decided: a `current` link for Node
 * applications, bootloader variables (U-Boot `fw_setenv`) for boards that boot from a raw slot.
 * Called after every saved transition with the new state.
 */
export interface BootSelector {
  apply(state: {
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
  }): Promise<void>;
}
