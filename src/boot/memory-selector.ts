/** A boot selector in memory, for tests and simulations. */
import type { BootSelector, SelectorState } from './boot-selector.js';

/** A boot selector that only remembers the last state it was given. */
export function memorySelector(): BootSelector & { last: SelectorState | null } {
  const sel = {
    last: null as SelectorState | null,
    async apply(state: SelectorState) {
      sel.last = state;
    },
  };
  return sel;
}
