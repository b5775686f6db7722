/**
 * The one parser for numbers written as text (headers, config values, durations, sleeps):
 * ASCII digits only, so signs, spaces, exponents and hex never slip through as they do with
 * parseInt and Number.
 */

/** True when `s` is one or more ASCII digits. */
export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A whole number written in at most 15 digits (exact as a double), or -1. */
export function parseWhole(s: string): number {
  return s.length <= 15 && isDigits(s) ? parseInt(s, 10) : -1;
}

/** A non-negative decimal such as "90" or "1.5" (digits on both sides of one optional dot), or NaN. */
export function parseDecimal(s: string): number {
  const dot = s.indexOf('.');
  const whole = dot < 0 ? s : s.slice(0, dot);
  const fraction = dot < 0 ? '0' : s.slice(dot + 1);
  return whole.length <= 15 && isDigits(whole) && isDigits(fraction) ? parseFloat(s) : NaN;
}
