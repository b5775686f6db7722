/**
 * The one timer helper (src/schedule/timer-clock.ts): setTimeout fires at once for delays past
 * 2^31 - 1 ms (24.8 days), so a 30-day check interval or confirm timeout would fire immediately.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setLongTimeout, timerClock } from '../src/schedule/timer-clock.js';

const DAY = 24 * 3600 * 1000;

describe('setLongTimeout', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits 30 days, not 0 ms', () => {
    const fn = vi.fn();
    setLongTimeout(fn, 30 * DAY);
    vi.advanceTimersByTime(29 * DAY);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(DAY);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('can be cancelled in any of its legs', () => {
    // 60 days are three legs of at most 24.8 days: cancelled in the first, the second and the last.
    for (const at of [10, 40, 55]) {
      const fn = vi.fn();
      const cancel = setLongTimeout(fn, 60 * DAY);
      vi.advanceTimersByTime(at * DAY);
      cancel();
      vi.advanceTimersByTime(80 * DAY);
      expect(fn, 'cancelled at day ' + at).not.toHaveBeenCalled();
    }
  });

  it('is what the platform clock uses', () => {
    const fn = vi.fn();
    timerClock(() => 0).setTimer(fn, 25 * DAY);
    vi.advanceTimersByTime(24 * DAY);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(DAY);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
