/**
 * Timers on the host's `setTimeout` (Node and Espruino both have it). `setTimeout` fires at once
 * for delays past 2^31 - 1 ms (24.8 days), so longer delays are chained: every timer in the
 * project goes through {@link setLongTimeout}.
 */
import type { Clock } from '../platform/interfaces.js';

/** Longest delay one `setTimeout` takes (a signed 32-bit number of milliseconds). */
export const MAX_TIMER_MS = 2147483647;

/** Runs `fn` after `ms` (any length; negative or NaN is 0); returns a function that cancels it. */
export function setLongTimeout(fn: () => void, ms: number): () => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  const step = (left: number) => {
    t = setTimeout(() => (left > MAX_TIMER_MS ? step(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
  };
  step(ms > 0 ? ms : 0);
  return () => {
    if (t !== undefined) clearTimeout(t);
  };
}

/** A Clock on the host's timers, with a chosen monotonic source. */
export function timerClock(now: () => number): Clock {
  return { now, date: () => Date.now(), setTimer: setLongTimeout };
}
