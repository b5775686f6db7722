/**
 * Property-based fuzzing of every parser that takes outside input: whatever it is given, it
 * returns a valid value, null, or throws an OtaError with a code; it never crashes otherwise.
 * A fixed seed and bounded runs here; `npm run fuzz` runs far more (FUZZ_RUNS).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadBootState } from '../src/boot/boot-store.js';
import { parseConfig, resolveConfig } from '../src/config/config.js';
import { parseWindow } from '../src/schedule/maintenance-window.js';
import { download } from '../src/download/downloader.js';
import { isOtaError } from '../src/errors.js';
import { parseContentRange, parseRetryAfter } from '../src/download/http-headers.js';
import { parseWhole } from '../src/text/numbers.js';
import { parseSleep } from '../src/check/hawkbit.js';
import { parseManifest } from '../src/check/release.js';
import { memorySlots } from '../src/install/memory-slots.js';
import { memoryState } from '../src/platform/memory-state.js';
import { checkManifest } from '../src/check/trust.js';
import { crc32 } from '../src/download/crc32.js';
import { sha256Hasher } from '../src/platform/node/platform.js';
import { createHash } from 'node:crypto';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const opts = { seed: 20261126, numRuns: RUNS };

/** Runs `f`; an OtaError is an acceptable refusal, anything else thrown fails the property. */
function refusesCleanly(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (!isOtaError(e)) throw e;
    return e.message.length > 0;
  }
}

const anyJson = fc.jsonValue({ maxDepth: 4 });
const manifestish = fc.record(
  {
    ver: fc.oneof(fc.string(), fc.constantFrom('1.0.0', '2.0.0-rc.1', '1.0', 'v1.2.3'), fc.integer()),
    size: fc.oneof(fc.integer({ min: -5, max: 1 << 20 }), fc.double(), fc.string()),
    sha256: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{64}$/)),
    chunk_size: fc.oneof(fc.integer({ min: -1, max: 1 << 25 }), fc.constant(4096)),
    chunk_crc32: fc.oneof(fc.array(fc.integer({ min: -1, max: 2 ** 32 }), { maxLength: 300 }), anyJson),
    url: fc.oneof(fc.string(), fc.webUrl()),
    override_rejected: fc.oneof(fc.boolean(), anyJson),
    expires: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
    device: fc.oneof(fc.constant('dev1'), fc.string()),
    signature: fc.string(),
  },
  { requiredKeys: [] },
);

describe('fuzzing (seed ' + opts.seed + ', ' + RUNS + ' runs each)', () => {
  it('config parser', () => {
    fc.assert(fc.property(fc.string(), (text) => refusesCleanly(() => parseConfig(text))), opts);
    fc.assert(fc.property(anyJson, (v) => refusesCleanly(() => resolveConfig(v))), opts);
    const keys = ['device_id', 'auto_update', 'ota_domain', 'mqtt_port', 'check_interval', 'check_jitter', 'boot_attempts', 'maintenance_window', 'public_keys', 'slot_a', 'protocol', 'firmware_version', 'log_max_size'];
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...keys), anyJson), (o) => refusesCleanly(() => resolveConfig(Object.assign({ device_id: 'd' }, o)))), opts);
    fc.assert(fc.property(fc.string(), (w) => { const r = parseWindow(w); return r === null || (r.start >= 0 && r.start < 1440 && r.end >= 0 && r.end < 1440); }), opts);
  });

  it('manifest parser and trust checks', () => {
    fc.assert(fc.property(anyJson, (v) => refusesCleanly(() => parseManifest(v, 'http://x'))), opts);
    fc.assert(
      fc.property(manifestish, (m) =>
        refusesCleanly(() => {
          const r = parseManifest(m, 'http://x');
          // Whatever passes is internally consistent.
          expect(r.chunkCrc32!.length).toBe(Math.ceil(r.size! / r.chunkSize));
        }),
      ),
      opts,
    );
    const trust = { keys: 1, verify: () => false };
    fc.assert(fc.property(manifestish, (m) => refusesCleanly(() => checkManifest(m, trust, { device: 'dev1', group: '' }, Date.now()))), opts);
  });

  it('HTTP header parsers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom('bytes 0-9/10', 'bytes 5-4/10', 'bytes 0-99999999999999999/1', 'bytes -1-2/3')), (v) => {
        const r = parseContentRange(v);
        return r === null || (r.first >= 0 && r.last >= r.first && r.total > r.last && Number.isSafeInteger(r.total));
      }),
      opts,
    );
    fc.assert(fc.property(fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toUTCString())), (v) => { const r = parseRetryAfter(v, Date.now()); return r === null || r >= 0; }), opts);
    fc.assert(fc.property(fc.string(), (v) => { const n = parseWhole(v); return n === -1 || Number.isSafeInteger(n); }), opts);
    fc.assert(fc.property(fc.string(), (v) => { const n = parseSleep(v); return n === null || n >= 0; }), opts);
  });

  it('boot state file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), anyJson.map((v) => JSON.stringify(v))), async (text) => {
        const state = memoryState();
        await state.write('boot.json', text);
        try {
          await loadBootState(state);
        } catch (e) {
          if (!isOtaError(e) || e.code !== 'BOOT_STATE') throw e;
        }
        return true;
      }),
      opts,
    );
  });

  it('download journal: any journal text still ends in the right image', async () => {
    const image = Buffer.alloc(10_000, 3);
    for (let i = 0; i < image.length; i++) image[i] = (i * 7) & 0xff;
    const release = { version: '1.0.0', size: image.length, sha256: createHash('sha256').update(image).digest('hex'), chunkSize: 1024, chunkCrc32: Array.from({ length: 10 }, (_, i) => crc32(image.subarray(i * 1024, (i + 1) * 1024))), url: 'mem://x', overrideRejected: false };
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), anyJson.map((v) => JSON.stringify(v)), fc.integer({ min: -3, max: 20 }).map((n) => JSON.stringify({ image: release.sha256, slot: 'b', size: image.length, chunk_size: 1024, synced: n }))), fc.uint8Array({ maxLength: 12_000 }), async (journal, leftover) => {
        const slots = memorySlots();
        const w = await slots.open('b', leftover.length);
        await w.write(0, leftover);
        const state = memoryState();
        await state.write('download.json', journal);
        const ctx = {
          transport: {
            request: async () => ({ status: 404, headers: {}, body: '' }),
            async stream(req: { headers?: Record<string, string> }, h: { onResponse: (s: number, hd: Record<string, string>) => boolean; onData: (p: Uint8Array) => unknown }) {
              const start = Number(/bytes=(\d+)-/.exec(req.headers?.Range ?? '')![1]);
              h.onResponse(206, { 'content-range': 'bytes ' + start + '-' + (image.length - 1) + '/' + image.length });
              await h.onData(image.subarray(start));
            },
          },
          slots,
          state,
          clock: { now: () => 0, date: () => 0, setTimer: (f: () => void) => (f(), () => undefined) },
          logger: { log: () => undefined },
          random: () => 0.5,
          sha256: sha256Hasher,
          crc32,
        };
        const sha = await download(ctx, { release, slot: 'b', headers: {}, idleTimeoutMs: 1000, retry: { retries: 1, baseDelayMs: 1 } });
        return sha === release.sha256 && Buffer.from(slots.bytes('b')).equals(image);
      }),
      { ...opts, numRuns: Math.min(RUNS, 200) },
    );
  });
});
