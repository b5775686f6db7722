/**
 * The progress rule against a slow drip (issue 13): a connection must bring `bytesPerSecond` body
 * bytes per second of network time, weighed over each `windowMs` of network time. Total silence is
 * the transport's idle timeout; this catches a server that keeps the connection alive with a byte
 * now and then.
 *
 * Network time is the time spent waiting for the connection: from the start of the exchange, or
 * from the moment the handler was done with a piece, until the next piece arrives. Time inside the
 * handler (verifying, writing and syncing the slot) is the storage's: a device whose SD card
 * stalls for seconds on a write is not being dripped at. The transports' idle timeouts pause
 * while the handler works for the same reason (StreamHandlers.onData).
 */
import { otaError } from '../errors.js';
import type { Clock } from '../platform/interfaces.js';

/** `download_min_rate` and `download_rate_window`, in bytes per second and milliseconds. */
export interface MinRate {
  bytesPerSecond: number;
  windowMs: number;
}

/** The rule over one download's exchanges, one at a time. */
export class ProgressRule {
  /** Body bytes and network time of the current window, and since when the network is awaited. */
  private bytes = 0;
  private networkMs = 0;
  private waitingSince = 0;
  /** The rule in force, or undefined: then every call returns at once, with no clock read per piece. */
  private readonly rule: MinRate | undefined;

  /** `rule` absent or 0 bytes per second: no rule. */
  constructor(
    private readonly clock: Clock,
    rule: MinRate | undefined,
  ) {
    this.rule = rule && rule.bytesPerSecond > 0 ? rule : undefined;
  }

  /** A new exchange: a fresh window, the network awaited from now. */
  start(): void {
    if (!this.rule) return;
    this.bytes = 0;
    this.networkMs = 0;
    this.waitingSince = this.clock.now();
  }

  /**
   * A piece of `bytes` arrived on the exchange that asked from byte `first`; once a window of
   * network time has passed, it must have brought its share, else this throws the connection
   * fault (which ends the exchange).
   */
  arrived(bytes: number, first: number): void {
    const rule = this.rule;
    if (!rule) return;
    this.bytes += bytes;
    this.networkMs += this.clock.now() - this.waitingSince;
    if (this.networkMs < rule.windowMs) return;
    const s = this.networkMs / 1000;
    if (this.bytes < rule.bytesPerSecond * s) {
      throw otaError('NETWORK', 'download', 'the connection from byte ' + first + ' brought ' + this.bytes + ' bytes in ' + s.toFixed(1) + ' s, below download_min_rate (' + rule.bytesPerSecond + ' bytes/s)', { retryable: true });
    }
    this.bytes = 0;
    this.networkMs = 0;
  }

  /** The handler is done with the piece: the network is awaited again from now. */
  handled(): void {
    if (this.rule) this.waitingSince = this.clock.now();
  }
}
