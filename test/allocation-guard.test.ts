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

  it('is no guard on a platform that throws when memory runs out', () => {
    const state = memoryState();
    expect(allocationGuard({ state }).state).toBe(state);
  });

  it('fails an update that ran out of memory while writing the slot with OUT_OF_MEMORY; the next check installs it', async () => {
    const f = flag();
    const d = memoryDevice({}, () => ({ version: '2.0.0' }), { allocationFailed: f.allocationFailed });
    const write = d.platform.slots.open.bind(d.platform.slots);
    let failOnce = true;
    d.platform.slots.open = async (slot, size) => {
      const w = await write(slot, size);
      return Object.assign({}, w, {
        async write(offset: number, data: Uint8Array) {
          // As on Espruino: the write is cut short and its caller goes on as if it had worked.
          if (failOnce && offset > 0) {
            failOnce = false;
            f.fail();
            return;
          }
          await w.write(offset, data);
        },
      });
    };
    const settle = async (p: Promise<CheckResult>) => {
      let r: CheckResult | null = null;
      void p.then((x) => (r = x));
      for (let i = 0; i < 50 && r === null; i++) await d.clock.advance(1);
      return r!;
    };
    const first = await settle(d.updater.checkForUpdates());
    expect(first).toMatchObject({ status: 'failed', error: { code: 'OUT_OF_MEMORY', retryable: true } });
    expect(await d.updater.status()).toMatchObject({ version: '1.0.0', state: 'confirmed' });
    expect(d.reboots).toEqual([]);
    expect(await settle(d.updater.checkForUpdates())).toMatchObject({ status: 'updated', version: '2.0.0' });
  });
});
