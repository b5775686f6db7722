/** Download progress in the log (the journal under systemd): a line at every 10 % step and at least every 30 s. */
import { describe, expect, it } from 'vitest';
import { progressLog } from '../src/log/progress-log.js';

describe('progressLog', () => {
  it('logs each 10 % step once, and a slow download at least every 30 s', () => {
    const lines: string[] = [];
    let now = 0;
    const log = progressLog((m) => lines.push(m), () => now);
    const total = 1000;
    // Fast: updates every 1 % within a second log 0 %, 10 %, ..., 100 % once each.
    for (let received = 0; received <= total; received += 10) {
      now += 5;
      log(received, total, 2048);
    }
    expect(lines).toHaveLength(11);
    expect(lines[3]).toBe('Downloaded 30% (300 of 1000 bytes, 2 KiB/s)');
    expect(lines[10]).toBe('Downloaded 100% (1000 of 1000 bytes, 2 KiB/s)');

    // Slow: 1 % per 10 s; between 10 % steps a line every 30 s keeps the journal alive.
    lines.length = 0;
    now = 0;
    const slow = progressLog((m) => lines.push(m), () => now);
    for (let received = 0; received <= 200; received += 10) {
      slow(received, total, 1);
      now += 10_000;
    }
    // 0 % at 0 s, then every 30 s (3 %, 6 %, 9 %), the 10 % step at 100 s, and so on.
    expect(lines.map((l) => l.slice(0, l.indexOf(' ('))).join(',')).toBe('Downloaded 0%,Downloaded 3%,Downloaded 6%,Downloaded 9%,Downloaded 10%,Downloaded 13%,Downloaded 16%,Downloaded 19%,Downloaded 20%');
  });
});
