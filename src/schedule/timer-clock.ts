/** A Clock on the host's `setTimeout` (Node and Espruino both have it), with a chosen monotonic source. */
import type { Clock } from '../platform/interfaces.js';

export function timerClock(now: () => number): Clock {
  return {
    now,
    date: () => Date.now(),
    setTimer(fn, ms) {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    },
  };
}
