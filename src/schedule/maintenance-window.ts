/** The maintenance window: "HH:MM-HH:MM" in UTC, possibly spanning midnight. */
import { isDigits } from '../text/numbers.js';

/** A window as minutes of the UTC day; `end` < `start` spans midnight. */
export interface Window {
  start: number;
  end: number;
}

const DAY_MINUTES = 1440;

function parseClock(s: string): number {
  const parts = s.split(':');
  if (parts.length !== 2 || parts[0]!.length !== 2 || parts[1]!.length !== 2 || !isDigits(parts[0]!) || !isDigits(parts[1]!)) return -1;
  const h = parseInt(parts[0]!, 10);
  const m = parseInt(parts[1]!, 10);
  return h < 24 && m < 60 ? h * 60 + m : -1;
}

/** Parses "HH:MM-HH:MM", or null when malformed or empty. */
export function parseWindow(v: string): Window | null {
  const parts = v.split('-');
  if (parts.length !== 2) return null;
  const start = parseClock(parts[0]!);
  const end = parseClock(parts[1]!);
  return start < 0 || end < 0 || start === end ? null : { start, end };
}

/** The minute of the UTC day at `dateMs` (milliseconds since 1970). */
export function minuteOfDay(dateMs: number): number {
  return Math.floor(dateMs / 60000) % DAY_MINUTES;
}

/** Milliseconds until the window opens, 0 when `minute` is inside it. */
export function untilWindow(w: Window, minute: number): number {
  const inside = w.start < w.end ? minute >= w.start && minute < w.end : minute >= w.start || minute < w.end;
  return inside ? 0 : ((w.start - minute + DAY_MINUTES) % DAY_MINUTES || DAY_MINUTES) * 60000;
}
