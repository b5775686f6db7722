/**
 * When automatic checks run: a first check shortly after start, then every interval with random
 * jitter, and after a retryable failure an exponential backoff (with jitter) capped at the
 * interval. Time comes from an injected clock; long waits are split to stay under the
 * 2^31 ms limit of timers.
 */
import type { Clock } from './platform.js';

/** How a scheduled run ended, for choosing the next delay. */
export type RunOutcome = 'done' | 'retry';

/** Scheduler settings; all times in milliseconds. */
export interface SchedulerOptions {
  clock: Clock;
  random: () => number;
  firstDelayMs: number;
  intervalMs: number;
  /** Fraction of the interval by which each wait is spread, up or down. */
  jitter: number;
  /** First retry delay after a failure; doubles with each failure in a row. */
  retryBaseMs: number;
  run: () => Promise<RunOutcome>;
}

/** Longest delay one timer may be given (setTimeout's signed 32-bit limit). */
const MAX_TIMER_MS = 2147483647;

function longTimer(clock: Clock, fn: () => void, ms: number): () => void {
  let cancel: () => void;
  const step = (left: number) => {
    cancel = clock.setTimer(() => (left > MAX_TIMER_MS ? step(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
  };
  step(Math.max(0, ms));
  return () => cancel();
}

/** Periodic runner; see the module description. */
export class Scheduler {
  private cancel: (() => void) | null = null;
  private active = false;
  private failures = 0;

  constructor(private readonly opts: SchedulerOptions) {}

  /** True between start() and stop(). */
  get started(): boolean {
    return this.active;
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    this.failures = 0;
    this.wait(this.opts.firstDelayMs);
  }

  stop(): void {
    this.active = false;
    if (this.cancel) this.cancel();
    this.cancel = null;
  }

  /** Delay before the next run after `outcome`. */
  nextDelay(outcome: RunOutcome): number {
    const o = this.opts;
    if (outcome === 'done') {
      this.failures = 0;
      return Math.round(o.intervalMs * (1 + o.jitter * (2 * o.random() - 1)));
    }
    const backoff = Math.min(o.intervalMs, o.retryBaseMs * Math.pow(2, this.failures));
    this.failures++;
    // "Equal jitter": between half and all of the backoff, so a fleet spreads out but still waits.
    return Math.round(backoff / 2 + (backoff / 2) * o.random());
  }

  private wait(ms: number): void {
    this.cancel = longTimer(this.opts.clock, () => this.fire(), ms);
  }

  private fire(): void {
    this.cancel = null;
    this.opts.run().then(
      (outcome) => this.active && this.wait(this.nextDelay(outcome)),
      () => this.active && this.wait(this.nextDelay('retry')),
    );
  }
}
