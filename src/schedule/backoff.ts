/**
 * Exponential backoff with "equal jitter" (between half and all of the delay), used for failed
 * checks, download faults and reconnects: a fleet spreads out but every device still waits.
 */

/** The wait after `n` failures before this one (n = 0 for the first): base × 2^n, capped, jittered. */
export function backoffDelay(baseMs: number, n: number, capMs: number, random: number): number {
  const d = Math.min(capMs, baseMs * Math.pow(2, n));
  return Math.round(d / 2 + (d / 2) * random);
}
