/**
 * isoTime (src/text/iso-time.ts) writes what Date.prototype.toISOString writes, without the time
 * zone set-up through ICU that toISOString costs in Node.
 */
import { describe, expect, it } from 'vitest';
import { isoTime } from '../src/text/iso-time.js';
import { formatLogLine } from '../src/log/log-line.js';

describe('isoTime', () => {
  it('equals toISOString from 1970 to 9999, milliseconds and padding included', () => {
    const times = [0, 1, 999, 1000, 59999, Date.UTC(2026, 10, 27, 16, 24, 41, 7), Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(101, 0, 1)];
    for (let t = 0; t < 4102444800000; t += 86399999 * 37 + 12345) times.push(t);
    for (const t of times) expect(isoTime(t)).toBe(new Date(t).toISOString());
  });

  it('leaves years it writes with a sign, and invalid times, to toISOString', () => {
    for (const t of [-1, Date.UTC(-5, 0, 1), Date.UTC(10000, 0, 1), 8.64e15]) expect(isoTime(t)).toBe(new Date(t).toISOString());
    expect(() => isoTime(NaN)).toThrow(RangeError);
  });

  it('gives the log line its time to the second', () => {
    expect(formatLogLine(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), 'INFO', 'x')).toBe('[2026-01-02 03:04:05] [INFO] - x');
  });
});
