/** A manual clock for deterministic timer tests. */
import type { Clock } from '../../src/platform/interfaces.js';

export interface FakeClock extends Clock {
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): Promise<void>;
  /** Delays of the timers set so far. */
  delays: number[];
}

/** `epoch`: the wall-clock time (ms since 1970) at which the clock starts. */
export function fakeClock(epoch = Date.UTC(2026, 10, 26, 12, 0)): FakeClock {
  let now = 0;
  let seq = 0;
  let timers: { at: number; seq: number; fn: () => void }[] = [];
  const delays: number[] = [];
  return {
    delays,
    now: () => now,
    date: () => epoch + now,
    setTimer(fn, ms) {
      const t = { at: now + ms, seq: seq++, fn };
      delays.push(ms);
      timers.push(t);
      return () => {
        timers = timers.filter((x) => x !== t);
      };
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        // Let work started by the last timer (promise chains, in-memory I/O) settle first.
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}
