/**
 * Running out of memory is an error, also where the platform throws none. Espruino stops the code
 * running when an allocation fails and whatever awaited it goes on with `undefined`: a chunk
 * buffer never allocated, a digest never computed, a state text cut short would otherwise end
 * in "updated" and a torn state file. So once the platform reports a failed allocation, no state
 * is written: the write throws OUT_OF_MEMORY, the update fails with it and is retried later, and
 * the state in the store stays the last complete one.
 */
import { otaError } from '../errors.js';
import type { Platform, StateStore } from '../platform/interfaces.js';

/** A state store that refuses writes after a failed allocation. */
export interface AllocationGuard {
  state: StateStore;
  /** Forgets failures from before an operation began (the application's own, say). */
  begin(): void;
}

/** Guards `platform.state` with `platform.allocationFailed`; a no-op where the platform has none. */
export function allocationGuard(platform: Pick<Platform, 'state' | 'allocationFailed'>): AllocationGuard {
  const inner = platform.state;
  const failed = platform.allocationFailed;
  if (failed === undefined) return { state: inner, begin() {} };
  return {
    state: {
      read: (name) => inner.read(name),
      remove: (name) => inner.remove(name),
      write(name, text) {
        if (failed()) {
          return Promise.reject(otaError('OUT_OF_MEMORY', 'install', 'the device ran out of memory during the update (' + name + ' not written)', { retryable: true }));
        }
        return inner.write(name, text);
      },
    },
    begin() {
      failed();
    },
  };
}
