/** The part of AbortController the updater needs, for both platforms (Espruino has none). */
import type { StopSignal } from '../platform/interfaces.js';

/** A {@link StopSignal} and the function that fires it (once). */
export function stopController(): { signal: StopSignal; stop(): void } {
  let listeners: (() => void)[] = [];
  const signal: StopSignal = {
    aborted: false,
    addEventListener(_type, fn) {
      listeners.push(fn);
    },
    removeEventListener(_type, fn) {
      listeners = listeners.filter((l) => l !== fn);
    },
  };
  return {
    signal,
    stop() {
      if (signal.aborted) return;
      (signal as { aborted: boolean }).aborted = true;
      const fire = listeners;
      listeners = [];
      for (const fn of fire) fn();
    },
  };
}
