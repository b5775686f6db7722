/**
 * Running out of memory is an error, also where the platform throws none. Espruino stops the code
 * running when an allocation fails and whatever awaited it goes on with `undefined`: a chunk
 * buffer never allocated, a digest never computed, a state text cut short would otherwise end
 * in "updated" and a torn state file. So once the platform reports a failed allocation, no state
 * is written and a write it cut short fails: the update fails with OUT_OF_MEMORY and is retried
 * later, and the store keeps its last complete state.
 */
import { otaError, type OtaError, type OtaStage } from '../errors.js';
import type { Platform, StateStore } from '../platform/interfaces.js';

/** A state store that refuses writes after a failed allocation. */
export interface AllocationGuard {
  state: StateStore;
  /** Forgets failures from before an operation began (the application's own, say). */
  begin(): void;
  /** True when an allocation failed since the last call (or the last state write). */
  ranOut(): boolean;
}

/** Guards `platform.state` with `platform.allocationFailed`; a no-op where the platform has none. */
export function allocationGuard(platform: Pick<Platform, 'state' | 'allocationFailed'>): AllocationGuard {
  const inner = platform.state;
  const failed = platform.allocationFailed;
  if (failed === undefined) return { state: inner, begin() {}, ranOut: () => false };
  const check = (name: string) => {
    if (failed()) throw outOfMemory('install', name + ' not written');
  };
  return {
    state: {
      read: (name) => inner.read(name),
      remove: (name) => inner.remove(name),
      async write(name, text) {
        check(name);
        await inner.write(name, text);
        // Checked again: a write that ran out of memory may not have happened at all.
        check(name);
      },
    },
    begin() {
      failed();
    },
    ranOut: failed,
  };
}

/** The error of an update during which memory ran out. */
export function outOfMemory(stage: OtaStage, what: string): OtaError {
  return otaError('OUT_OF_MEMORY', stage, 'the device ran out of memory (' + what + ')', { retryable: true });
}
