/** Durations as default.cfg writes them ("90s", "30m", "6h", "1d") and as messages say them. */
import { parseDecimal } from '../text/numbers.js';

const UNIT_SECONDS: { [unit: string]: number } = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses "90", "90s", "30m", "6h", "1d" (or a number) into seconds; NaN when malformed. */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number') return v >= 0 && isFinite(v) ? v : NaN;
  if (typeof v !== 'string' || v.length === 0) return NaN;
  const last = v.charAt(v.length - 1);
  const factor = UNIT_SECONDS[last];
  const digits = factor === undefined ? v : v.slice(0, -1);
  return parseDecimal(digits) * (factor ?? 1);
}

/** "1h 30m", "2m 5s", "45s", "0.5s": a delay in milliseconds, for people. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return (ms / 1000).toFixed(1) + 's';
  let s = Math.round(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  s = s % 60;
  const out: string[] = [];
  if (d) out.push(d + 'd');
  if (h) out.push(h + 'h');
  if (m) out.push(m + 'm');
  if (s || out.length === 0) out.push(s + 's');
  return out.slice(0, 2).join(' ');
}
