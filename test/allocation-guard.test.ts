/**
 * Out of memory where the platform throws none (Espruino): no state is written after a failed
 * allocation, and an update during which one failed ends in OUT_OF_MEMORY, never `updated`.
 * The interpreter's own behaviour is tested in test/espruino-memory.test.ts (board builds only).
 */
import { describe, expect, it } from 'vitest';
import { memoryState } from '../src/platform/memory-state.js';
import { allocationGuard } from '../src/updater/allocation-guard.js';
import type { CheckResult } from '../src/updater/updater.js';
import { memoryDevice } from './helpers/memory-device.js';

/** A platform flag like Espruino's: set by `fail()`, read and cleared by `allocationFailed()`. */
function flag() {
  let set = false;
  return {
    fail: () => void (set = true),
    allocationFailed: () => {
      const was = set;
      set = false;
      return was;
    },
  };
}

/** The result of `p`, moving the fake clock on (up to a minute) until it settles; null if it never does. */
async function settle(clock: { advance(ms: number): Promise<void> }, p: Promise<CheckResult>): Promise<CheckResult | null> {
  let r: CheckResult | null = null;
  void p.then((x) => (r = x));
  for (let i = 0; i < 600 && r === null; i++) await clock.advance(100);
  return r;
}

/** Slot writes that run out of memory once (at `offset > 0`) as on Espruino: cut short, their caller going on as if they had worked. */
function oomOnce(d: ReturnType<typeof memoryDevice>, f: ReturnType<typeof flag>, after: () => Promise<void> = async () => {}) {
  const open = d.platform.slots.open.bind(d.platform.slots);
  let failOnce = true;
  d.platform.slots.open = async (slot, size) => {
    const w = await open(slot, size);
    return Object.assign({}, w, {
      async write(offset: number, data: Uint8Array) {
        if (failOnce && offset > 0) {
          failOnce = false;
          f.fail();
          return after();
        }
        await w.write(offset, data);
      },
    });
  };
}

describe('allocation guard', () => {
  it('refuses a write after a failed allocation, fails one during which an allocation failed, and forgets failures from before begin()', async () => {
    const f = flag();
    const state = memoryState();
    const guard = allocationGuard({ state, allocationFailed: f.allocationFailed });
    await guard.state.write('boot.json', '{"seq":1}');
    f.fail();
    await expect(guard.state.write('boot.json', '{ ')).rejects.toMatchObject({ code: 'OUT_OF_MEMORY', retryable: true });
    expect(await state.read('boot.json')).toBe('{"seq":1}');
    const during = allocationGuard({ state: { read: state.read, remove: state.remove, write: async () => f.fail() }, allocationFailed: f.allocationFailed });
    await expect(during.state.write('boot.json', '{"seq":2}')).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
    f.fail();
    guard.begin();
    await guard.state.write('boot.json', '{"seq":3}');
    expect(await state.read('boot.json')).toBe('{"seq":3}');
  });

  it('names the boot stage when memory runs out in a boot step', async () => {
    const f = flag();
    const d = memoryDevice({}, () => ({ version: '2.0.0' }), { allocationFailed: f.allocationFailed });
    // The boot state's write runs out (the store object the updater guards, changed in place).
    const state = d.platform.state;
    const write = state.write.bind(state);
    state.write = async (name, text) => {
      f.fail();
      await write(name, text);
    };
    await expect(d.updater.boot()).rejects.toMatchObject({ code: 'OUT_OF_MEMORY', stage: 'boot' });
  });

  it('refuses what a read during which an allocation failed handed back, but not a read after an earlier failure', async () => {
    const f = flag();
    const state = memoryState();
    await state.write('download.json', '{"synced":1}');
    // Espruino goes on with part of the text when the read runs out: never to be parsed.
    const cut = allocationGuard({ state: { read: async () => (f.fail(), '{"syn'), remove: state.remove, write: state.write }, allocationFailed: f.allocationFailed });
    await expect(cut.state.read('download.json')).rejects.toMatchObject({ code: 'OUT_OF_MEMORY', retryable: true, message: 'the device ran out of memory (download.json not read)' });
    expect(cut.ranOut()).toBe(true);
    const guard = allocationGuard({ state, allocationFailed: f.allocationFailed });
    f.fail(); // the application's own, before the read
    expect(await guard.state.read('download.json')).toBe('{"synced":1}');
    expect(guard.ranOut()).toBe(true);
  });

  it('is no guard on a platform that throws when memory runs out', () => {
    const state = memoryState();
    expect(allocationGuard({ state }).state).toBe(state);
  });

  it('fails an update that ran out of memory while writing the slot with OUT_OF_MEMORY; the next check installs it', async () => {
    const f = flag();
    const d = memoryDevice({}, () => ({ version: '2.0.0' }), { allocationFailed: f.allocationFailed });
    oomOnce(d, f);
    const first = await settle(d.clock, d.updater.checkForUpdates());
    // The stage is where it ran out (it said "install" for every refused state write).
    expect(first).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_MEMORY', retryable: true, stage: 'download' } });
    expect(await d.updater.status()).toMatchObject({ version: '1.0.0', state: 'confirmed' });
    expect(d.reboots).toEqual([]);
    expect(await settle(d.clock, d.updater.checkForUpdates())).toMatchObject({ status: 'updated', version: '2.0.0' });
  });

  it('ends a check whose steps never go on after memory ran out (their promise lost) with OUT_OF_MEMORY', async () => {
    // Before: checkForUpdates() never settled.
    const f = flag();
    const d = memoryDevice({}, () => ({ version: '2.0.0' }), { allocationFailed: f.allocationFailed });
    oomOnce(d, f, () => new Promise<void>(() => {}));
    const first = await settle(d.clock, d.updater.checkForUpdates());
    expect(first).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_MEMORY', retryable: true } });
    expect(await d.updater.status()).toMatchObject({ version: '1.0.0', state: 'confirmed' });
    expect(await settle(d.clock, d.updater.checkForUpdates())).toMatchObject({ status: 'updated', version: '2.0.0' });
  });

  it('does not wait for ever for the report of an update that ran out of memory (the exchange never answers)', async () => {
    // Before: checkForUpdates() waited as long as the report did: for ever when its callbacks were lost.
    const f = flag();
    const reports: string[] = [];
    const d = memoryDevice({}, () => ({ version: '2.0.0' }), {
      allocationFailed: f.allocationFailed,
      report: (r) => {
        reports.push(r.stage);
        return new Promise<void>(() => {});
      },
    });
    oomOnce(d, f);
    const first = await settle(d.clock, d.updater.checkForUpdates());
    expect(first).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_MEMORY' } });
    expect(reports).toContain('failed');
    expect(d.lines.join('\n')).toContain('Could not report "failed" to the server: the report did not end within 30 s');
    expect(await d.updater.status()).toMatchObject({ version: '1.0.0', state: 'confirmed' });
  });

  it('goes on when the report of an update that ran out of memory fails', async () => {
    const f = flag();
    const d = memoryDevice({}, () => ({ version: '2.0.0' }), {
      allocationFailed: f.allocationFailed,
      report: async () => {
        throw new Error('socket closed');
      },
    });
    oomOnce(d, f);
    expect(await settle(d.clock, d.updater.checkForUpdates())).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_MEMORY' } });
  });
});
