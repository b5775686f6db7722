/**
 * When automatic checks run: a first check shortly after start, then every interval with random
 * jitter; after a retryable failure an exponential backoff (with jitter) from `retryBaseMs` up to
 * the interval; a server's suggested wait (Retry-After, a poll interval) within clamps. Time
 * comes from an injected clock.
 */
import type { Clock } from '../platform/interfaces.js';
import { backoffDelay } from './backoff.js';

/** How a run ended: `done` (wait the interval), `retry` (back off), `soon` (a deferred install: at the hint, else the base delay). */
export type RunOutcome = 'done' | 'retry' | 'soon';

/** Scheduler settings; all times in milliseconds. */
export interface SchedulerOptions {
  clock: Clock;
  random: () => number;
  firstDelayMs: number;
  intervalMs: number;
  /** Fraction of the interval by which each regular wait is spread, up or down. */
  jitter: number;
  /** First retry delay after a failure; doubles with each failure in a row, up to the interval. */
  retryBaseMs: number;
  /** Bounds for a wait the server suggests. */
  minIntervalMs: number;
  maxIntervalMs: number;
  /** False: ignore the server's suggestions. */
  honourServer: boolean;
  /** Runs a check. It must call {@link Scheduler.reschedule} when done (the updater does). */
  run: () => Promise<unknown>;
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
    this.clear();
  }

  /**
   * Plans the next run after a run ended with `outcome` (`serverHintMs`: what the server asked
   * for), replacing any run already planned. Returns the delay, or null when stopped.
   */
  reschedule(outcome: RunOutcome, serverHintMs?: number | null): number | null {
    if (!this.active) return null;
    const delay = this.delayAfter(outcome, serverHintMs ?? null);
    this.clear();
    this.wait(delay);
    return delay;
  }

  private delayAfter(outcome: RunOutcome, hint: number | null): number {
    const o = this.opts;
    if (outcome === 'soon') return hint ?? o.retryBaseMs;
    if (outcome === 'done') this.failures = 0;
    if (hint !== null && o.honourServer) return Math.min(o.maxIntervalMs, Math.max(o.minIntervalMs, hint));
    if (outcome === 'done') return Math.round(o.intervalMs * (1 + o.jitter * (2 * o.random() - 1)));
    return backoffDelay(o.retryBaseMs, this.failures++, o.intervalMs, o.random());
  }

  private clear(): void {
    if (this.cancel) this.cancel();
    this.cancel = null;
  }

  private wait(ms: number): void {
    this.cancel = this.opts.clock.setTimer(() => this.fire(), ms);
  }

  private fire(): void {
    this.cancel = null;
    this.opts.run().then(undefined, () => this.reschedule('retry'));
  }
}
