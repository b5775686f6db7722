/**
 * Strict parsers for the response headers the downloader trusts: Content-Range and Retry-After.
 * Anything malformed is null, never a guess.
 */
import { parseWhole } from '../text/numbers.js';

/** `bytes first-last/total`, or null. */
export function parseContentRange(v: string | undefined): { first: number; last: number; total: number } | null {
  if (v === undefined || v.indexOf('bytes ') !== 0) return null;
  const slash = v.slice(6).split('/');
  if (slash.length !== 2) return null;
  const span = slash[0]!.split('-');
  if (span.length !== 2) return null;
  const first = parseWhole(span[0]!);
  const last = parseWhole(span[1]!);
  const total = parseWhole(slash[1]!);
  return first < 0 || last < first || total <= last ? null : { first, last, total };
}

/** Milliseconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(v: string | undefined, nowMs: number): number | null {
  if (v === undefined) return null;
  const t = v.trim();
  const seconds = parseWhole(t);
  if (seconds >= 0) return seconds * 1000;
  const at = Date.parse(t);
  // Dates only in the RFC 7231 form ("Sun, 06 Nov 1994 08:49:37 GMT"); Date.parse is lenient.
  if (isNaN(at) || t.indexOf('GMT') !== t.length - 3) return null;
  return Math.max(0, at - nowMs);
}
