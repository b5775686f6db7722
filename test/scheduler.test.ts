/** When checks run, driven by an injected clock: no real waits anywhere. */
import { describe, expect, it } from 'vitest';
import { parseWindow, untilWindow } from '../src/schedule/maintenance-window.js';
import { Scheduler, type RunOutcome } from '../src/schedule/scheduler.js';
import { fakeClock } from './helpers/fake-clock.js';
import { memoryDevice, type Answer } from './helpers/memory-device.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;

/** A bare scheduler whose runs end with the given outcomes (and server hints). */
function bare(outcomes: [RunOutcome, number?][], random = () => 0.5, extra: { honourServer?: boolean } = {}) {
  const clock = fakeClock();
  const runs: number[] = [];
  const s: Scheduler = new Scheduler({
    clock,
    random,
    firstDelayMs: 30 * S,
    intervalMs: 6 * H,
    jitter: 0.1,
    retryBaseMs: M,
    minIntervalMs: 30 * S,
    maxIntervalMs: 7 * 24 * H,
    honourServer: extra.honourServer ?? true,
    run: async () => {
      runs.push(clock.now());
      const [outcome, hint] = outcomes.shift() ?? ['done'];
      s.reschedule(outcome, hint);
    },
  });
  return { clock, runs, s, gaps: () => runs.slice(1).map((t, i) => t - runs[i]!) };
}

describe('Scheduler', () => {
  it('checks shortly after start, then every interval', async () => {
    const { clock, runs, s } = bare([]);
    s.start();
    await clock.advance(20 * H);
    expect(runs).toEqual([30 * S, 30 * S + 6 * H, 30 * S + 12 * H, 30 * S + 18 * H]);
  });

  it('spreads checks within the jitter bounds', async () => {
    const lo = bare([], () => 0);
    lo.s.start();
    await lo.clock.advance(6 * H);
    expect(lo.gaps()).toEqual([5.4 * H]);
    const hi = bare([], () => 0.999999);
    hi.s.start();
    await hi.clock.advance(7 * H);
    expect(hi.gaps()[0]).toBeCloseTo(6.6 * H, -3);
  });

  it('backs off exponentially after failures, capped at the interval, then returns to the interval', async () => {
    const { clock, s, gaps } = bare([...Array(12).fill(['retry']), ['done']], () => 1);
    s.start();
    await clock.advance(80 * H);
    const g = gaps();
    expect(g.slice(0, 6)).toEqual([1, 2, 4, 8, 16, 32].map((m) => m * M));
    expect(g.slice(9, 12)).toEqual([6 * H, 6 * H, 6 * H]); // capped
    expect(g[12]).toBe(Math.round(6.6 * H)); // after a success: the interval (with jitter, random = 1)
    expect(g[13]).toBe(Math.round(6.6 * H));
  });

  it('follows the server within the clamps, unless told not to', async () => {
    const { clock, s, gaps } = bare([['done', 5 * M], ['done', 1 * S], ['done', 30 * 24 * H], ['retry', 10 * M]]);
    s.start();
    await clock.advance(8 * 24 * H);
    expect(gaps().slice(0, 4)).toEqual([5 * M, 30 * S, 7 * 24 * H, 10 * M]);
    const local = bare([['done', 5 * M]], () => 0.5, { honourServer: false });
    local.s.start();
    await local.clock.advance(7 * H);
    expect(local.gaps()).toEqual([6 * H]);
  });

  it('waits a month when the interval is a month', async () => {
    const clock = fakeClock();
    const runs: number[] = [];
    const s = new Scheduler({ clock, random: () => 0.5, firstDelayMs: 30 * 24 * H, intervalMs: 30 * 24 * H, jitter: 0, retryBaseMs: 1, minIntervalMs: 0, maxIntervalMs: 0, honourServer: false, run: async () => void runs.push(clock.now()) });
    s.start();
    await clock.advance(31 * 24 * H);
    expect(runs).toEqual([30 * 24 * H]);
  });

  it('stops', async () => {
    const { clock, runs, s } = bare([]);
    s.start();
    await clock.advance(31 * S);
    s.stop();
    await clock.advance(24 * H);
    expect(runs).toEqual([30 * S]);
    expect(s.started).toBe(false);
  });
});

describe('the updater on its schedule', () => {
  const upToDate = (): Answer => ({ version: '1.0.0' });

  it('does nothing by itself with auto_update off; manual checks still work', async () => {
    const d = memoryDevice({ auto_update: false }, upToDate);
    d.updater.start();
    await d.clock.advance(48 * H);
    expect(d.checks).toEqual([]);
    expect(d.lines).toContain('INFO Automatic updates are off (auto_update: false); manual checks and remote triggers still work');
    expect((await d.updater.checkForUpdates()).status).toBe('up-to-date');
  });

  it('checks first after first_check_delay, then every check_interval', async () => {
    const d = memoryDevice({ auto_update: true, first_check_delay: '10s', check_interval: '2h', check_jitter: 0 }, upToDate);
    d.updater.start();
    await d.clock.advance(7 * H);
    expect(d.checks).toEqual([10 * S, 10 * S + 2 * H, 10 * S + 4 * H, 10 * S + 6 * H]);
  });

  it('retries a failing server with backoff from retry_delay, and each failure line says when the next try is', async () => {
    let n = 0;
    const d = memoryDevice({ auto_update: true, first_check_delay: 0, retry_delay: '1m' }, () => (n++ < 4 ? { status: 503 } : { version: '1.0.0' }));
    d.updater.start();
    await d.clock.advance(20 * M);
    // random() = 0.5: three quarters of 1, 2, 4, 8 minutes.
    expect(d.checks.slice(1).map((t, i) => t - d.checks[i]!)).toEqual([45 * S, 90 * S, 180 * S, 360 * S]);
    const failures = d.lines.filter((l) => l.startsWith('ERROR'));
    expect(failures[0]).toBe('ERROR Cannot check for updates: server answered HTTP 503; the running firmware 1.0.0 (slot a) is untouched; next try in 45s');
    expect(failures[3]).toMatch(/next try in 6m$/);
  });

  it('honours Retry-After on a check, and waits for the next regular check after a 4xx', async () => {
    let n = 0;
    const answers: Answer[] = [{ status: 429, retryAfterMs: 5 * M }, { status: 403 }, { version: '1.0.0' }];
    const d = memoryDevice({ auto_update: true, first_check_delay: 0, check_jitter: 0 }, () => answers[Math.min(n++, 2)]!);
    d.updater.start();
    await d.clock.advance(7 * H);
    expect(d.checks).toEqual([0, 5 * M, 5 * M + 6 * H]);
    expect(d.lines.filter((l) => l.startsWith('ERROR'))[1]).toMatch(/not retried before the next regular check, in 6h$/);
  });

  it('defers the install while the application holds an inhibitor, then installs', async () => {
    const d = memoryDevice({ auto_update: true, first_check_delay: 0, retry_delay: '1m' }, () => ({ version: '1.1.0' }));
    const release = d.updater.inhibit('recording');
    d.updater.start();
    await d.clock.advance(30 * S);
    expect(d.lines).toContain('INFO Update 1.1.0 is downloaded and verified; installing it waits: the application is busy (recording)');
    expect(d.reboots).toEqual([]);
    release();
    await d.clock.advance(2 * M);
    expect(d.checks).toEqual([0, M]);
    expect(d.reboots).toEqual(['1.1.0']);
  });

  it('installs automatic updates only in the maintenance window, and a forced one at once', async () => {
    const noon = Date.UTC(2026, 10, 26, 12, 0);
    const d = memoryDevice({ auto_update: true, first_check_delay: 0, maintenance_window: '02:00-04:00' }, () => ({ version: '1.1.0' }), { epoch: noon });
    d.updater.start();
    await d.clock.advance(M);
    expect(d.lines).toContain('INFO Update 1.1.0 is downloaded and verified; installing it waits: outside the maintenance window 02:00-04:00 UTC');
    await d.clock.advance(13 * H);
    expect(d.reboots).toEqual([]);
    await d.clock.advance(H);
    expect(d.checks).toEqual([0, 14 * H]); // 02:00 UTC
    expect(d.reboots).toEqual(['1.1.0']);

    const forced = memoryDevice({ maintenance_window: '02:00-04:00' }, () => ({ version: '1.1.0' }), { epoch: noon });
    expect((await forced.updater.checkForUpdates({ force: true })).status).toBe('updated');
  });

  it('joins concurrent checks and triggers into one update', async () => {
    const d = memoryDevice({}, () => ({ version: '1.1.0' }));
    const results = await Promise.all([d.updater.checkForUpdates(), d.updater.checkForUpdates({ force: true }), d.updater.checkForUpdates()]);
    expect(results.map((r) => r.status)).toEqual(['updated', 'updated', 'updated']);
    expect(d.checks.length).toBe(1);
    expect(d.downloads()).toBe(1);
  });
});

describe('maintenance window', () => {
  const MIN = 60_000;
  it('opens at its start, closes at its end, and may span midnight (README: "HH:MM-HH:MM" UTC)', () => {
    const day = parseWindow('02:00-04:00')!;
    expect(day).toEqual({ start: 120, end: 240 });
    expect([120, 239].map((m) => untilWindow(day, m))).toEqual([0, 0]);
    expect([119, 240, 720].map((m) => untilWindow(day, m) / MIN)).toEqual([1, 22 * 60, 14 * 60]);
    const night = parseWindow('23:30-01:00')!;
    expect(night).toEqual({ start: 1410, end: 60 });
    expect([1410, 1439, 0, 59].map((m) => untilWindow(night, m))).toEqual([0, 0, 0, 0]);
    expect([60, 720, 1409].map((m) => untilWindow(night, m) / MIN)).toEqual([22 * 60 + 30, 11 * 60 + 30, 1]);
  });
});
