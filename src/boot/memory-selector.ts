/** A boot selector in memory, for tests and simulations. */
import type { BootSelector } from './boot-selector.js';

/** A boot selector that only remembers the last state it was given. */
export function memorySelector(): BootSelector & { last: Parameters<BootSelector['apply']>[0] | null } {
  const sel = {
    last: null as Parameters<BootSelector['apply']>[0] | null,
    async apply(state: Parameters<BootSelector['apply']>[0]) {
      sel.last = state;
    },
  };
  return sel;
}
