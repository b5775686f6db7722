import { describe, expect, it } from 'vitest';
import { Scheduler, type RunOutcome } from '../src/scheduler.js';
import { fakeClock } from './helpers/fake-clock.js';

const H = 3600 * 1000;

function setup(outcomes: RunOutcome[], random = () => 0.5) {
  const clock = fakeClock();
  const runs: number[] = [];
  const s = new Scheduler({
    clock,
    random,
    firstDelayMs: 30_000,
    intervalMs: 6 * H,
    jitter: 0.1,
    retryBaseMs: 60_000,
    run: async () => {
      runs.push(clock.now());
      return outcomes.shift() ?? 'done';
    },
  });
  return { clock, runs, s };
}

describe('Scheduler', () => {
  it('checks shortly after start, then every interval', async () => {
    const { clock, runs, s } = setup([]);
    s.start();
    await clock.advance(20 * H);
    expect(runs).toEqual([30_000, 30_000 + 6 * H, 30_000 + 12 * H, 30_000 + 18 * H]);
  });

  it('spreads checks by the jitter', async () => {
    const lo = setup([], () => 0);
    lo.s.start();
    await lo.clock.advance(6 * H);
    expect(lo.runs).toEqual([30_000, 30_000 + 5.4 * H]);
    const hi = setup([], () => 0.999999);
    hi.s.start();
    await hi.clock.advance(7 * H);
    expect(hi.runs[1]! - hi.runs[0]!).toBeCloseTo(6.6 * H, -3);
  });

  it('retries failures with exponential backoff capped at the interval, then returns to the interval', async () => {
    const { clock, runs, s } = setup(Array(12).fill('retry'), () => 1);
    s.start();
    await clock.advance(60 * H);
    const gaps = runs.slice(1).map((t, i) => t - runs[i]!);
    expect(gaps.slice(0, 4)).toEqual([60_000, 120_000, 240_000, 480_000]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(6.6 * H);
    expect(gaps[9]).toBe(6 * H); // capped
    expect(gaps[12]).toBe(Math.round(6.6 * H)); // success: back to the interval (with jitter at random = 1)
  });

  it('splits waits longer than the 2^31 ms timer limit', async () => {
    const clock = fakeClock();
    const runs: number[] = [];
    const s = new Scheduler({ clock, random: () => 0.5, firstDelayMs: 30 * 24 * H, intervalMs: 30 * 24 * H, jitter: 0, retryBaseMs: 1, run: async () => (runs.push(clock.now()), 'done') });
    s.start();
    await clock.advance(31 * 24 * H);
    expect(runs).toEqual([30 * 24 * H]);
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('stops', async () => {
    const { clock, runs, s } = setup([]);
    s.start();
    await clock.advance(31_000);
    s.stop();
    await clock.advance(24 * H);
    expect(runs).toEqual([30_000]);
    expect(s.started).toBe(false);
  });
});
