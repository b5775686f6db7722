/**
 * The downloader against a fault-injecting server on 127.0.0.1: every fault, alone and mixed,
 * ends in the published image or a clear error with the running slot untouched.
 */
import { createServer } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProgressRule, type MinRate } from '../src/download/progress-rule.js';
import type { Clock } from '../src/platform/interfaces.js';
import { faultServer, type Fault } from './helpers/fault-server.js';
import { compressedClock, device, image, listenLocal, manifestFor, sha256, testUpdater } from './helpers/fixtures.js';
import { memorySlots } from '../src/install/memory-slots.js';
import type { SlotStorage } from '../src/install/slots.js';

const SIZE = 200_000;
const CHUNK = 4096;

async function run(faults: Fault | Fault[], settings: Record<string, unknown> = {}, data = image(SIZE, 77)) {
  const m = await manifestFor(data, CHUNK);
  const server = await faultServer(m, data, faults);
  const stateDir = await device('1.0.0');
  const running = readFileSync(join(stateDir, 'slots/a.bin'));
  const { clock, delays } = compressedClock();
  const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1', download_timeout: 0.3, ...settings }, stateDir, { clock, random: () => 0.5 });
  const result = await updater.checkForUpdates();
  const untouched = readFileSync(join(stateDir, 'slots/a.bin')).equals(running);
  const installed = result.status === 'updated' ? readFileSync(join(stateDir, 'slots/b.bin')) : null;
  return { result, server, lines, delays, untouched, installed, stateDir, data };
}

function starts(ranges: (string | undefined)[]): number[] {
  return ranges.map((h) => (h === undefined ? -1 : Number(/^bytes=(\d+)-$/.exec(h)![1])));
}

describe('downloader faults, one at a time', () => {
  for (const [what, fault] of [
    ['a connection reset', { resetAfter: 50_000 }],
    ['a body cut short', { cutAfter: 50_000 }],
    ['a stalled connection (idle timeout)', { stallAfter: 50_000 }],
  ] as [string, Fault][]) {
    it('resumes after ' + what + ' from a chunk boundary and installs the published image', async () => {
      const r = await run([fault]);
      expect(r.result.status).toBe('updated');
      expect(sha256(r.installed!)).toBe(sha256(r.data));
      const s = starts(r.server.ranges);
      expect(s.length).toBe(2);
      expect(s[0]).toBe(0);
      expect(s[1]! % CHUNK).toBe(0);
      expect(s[1]).toBeLessThanOrEqual(50_000);
      expect(r.untouched).toBe(true);
    });
  }

  it('says what stalled and resumes', async () => {
    const r = await run([{ stallAfter: 10_000 }]);
    expect(r.lines.some((l) => l.level === 'WARNING' && l.message.includes('no data from') && l.message.includes('for 0.3 s'))).toBe(true);
  });

  it('fetches a chunk that failed its CRC again', async () => {
    const r = await run([{ corruptAt: 70_000 }]);
    expect(r.result.status).toBe('updated');
    expect(sha256(r.installed!)).toBe(sha256(r.data));
    expect(starts(r.server.ranges)).toEqual([0, Math.floor(70_000 / CHUNK) * CHUNK]);
    expect(r.lines.map((l) => l.message)).toContain('chunk 17 (bytes 69632-73727) failed its CRC-32 check; fetching it again');
  });

  it('gives up on a chunk that keeps failing its CRC, keeping the verified chunks', async () => {
    const r = await run({ corruptAt: 70_000 });
    expect(r.result.status === 'failed' && r.result.error).toMatchObject({ code: 'CHUNK_CRC', retryable: true });
    expect(r.result.status === 'failed' && r.result.message).toContain('failed its CRC-32 check 3 times; giving up with 69632 verified bytes kept for the next attempt');
    expect(r.server.ranges.length).toBe(3);
    expect(r.untouched).toBe(true);
  });

  it('restarts from byte 0 when the server ignores Range', async () => {
    const r = await run([{ cutAfter: 30_000 }, { ignoreRange: true }]);
    expect(r.result.status).toBe('updated');
    expect(sha256(r.installed!)).toBe(sha256(r.data));
    expect(r.lines.some((l) => l.message.startsWith('Server ignored the Range request; reading from byte 0 and skipping'))).toBe(true);
  });

  for (const [what, contentRange] of [
    ['a Content-Range at the wrong offset', 'bytes 4096-199999/200000'],
    ['a Content-Range with the wrong total', 'bytes 0-199998/199999'],
    ['a malformed Content-Range', 'bytes 0-x/200000'],
    ['a 206 without Content-Range', null],
  ] as [string, string | null][]) {
    it('refuses ' + what, async () => {
      const r = await run({ contentRange });
      expect(r.result.status === 'failed' && r.result.error.code).toBe('RANGE_INVALID');
      expect(r.result.status === 'failed' && r.result.message).toContain('server answered Range bytes=0- with Content-Range ' + JSON.stringify(contentRange));
      expect(r.server.ranges.length).toBe(1);
      expect(r.untouched).toBe(true);
    });
  }

  it('stops at the announced size when the body is longer', async () => {
    for (const fault of [{ extraBytes: 100_000 }, { extraBytes: 100_000, ignoreRange: true }]) {
      const r = await run(fault);
      expect(r.result.status).toBe('updated');
      expect(statSync(join(r.stateDir, 'slots/b.bin')).size).toBe(SIZE);
      expect(sha256(r.installed!)).toBe(sha256(r.data));
    }
  });

  it('retries 5xx with exponential backoff and jitter', async () => {
    const r = await run([{ status: 503 }, { status: 502 }, { status: 500 }], { download_retry_delay: 1 });
    expect(r.result.status).toBe('updated');
    // random() = 0.5: three quarters of 1 s, 2 s, 4 s.
    expect(r.delays).toEqual([750, 1500, 3000]);
  });

  it('honours Retry-After on 503 and 429, in seconds or as a date', async () => {
    const soon = new Date(Date.now() + 120_000).toUTCString();
    const r = await run([{ status: 503, retryAfter: '7' }, { status: 429, retryAfter: soon }]);
    expect(r.result.status).toBe('updated');
    expect(r.delays[0]).toBe(7000);
    expect(r.delays[1]).toBeGreaterThan(110_000);
    expect(r.delays[1]).toBeLessThanOrEqual(120_000);
  });

  it('ends the attempt when the server asks to wait too long', async () => {
    const r = await run({ status: 503, retryAfter: '3600' });
    expect(r.result.status === 'failed' && r.result.message).toContain('image download got HTTP 503');
    expect(r.result.status === 'failed' && r.result.message).toContain('the server asked to wait 3600 s');
    expect(r.server.ranges.length).toBe(1);
  });

  it('stops at a 4xx without retrying', async () => {
    for (const status of [401, 403, 404, 410]) {
      const r = await run({ status });
      expect(r.result.status === 'failed' && r.result.error).toMatchObject({ code: 'HTTP_STATUS', status, retryable: false });
      expect(r.server.ranges.length).toBe(1);
      expect(r.untouched).toBe(true);
    }
  });

  it('gives up after the configured faults in a row, saying after how many bytes', async () => {
    const r = await run({ stallAfter: 0 }, { download_retries: 2, download_timeout: 0.1 });
    expect(r.result.status === 'failed' && r.result.message).toMatch(/^no data from http:\/\/127\.0\.0\.1:\d+\/image\.bin for 0\.1 s at byte 0 of 200000 \(3 faults in a row; 0 bytes kept for the next attempt\)/);
    expect(r.server.ranges.length).toBe(3);
  });

  it('reports progress with the rate, throttled, ending at the total', async () => {
    const data = image(3_000_000, 5);
    const m = await manifestFor(data, 65536);
    const server = await faultServer(m, data);
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, await device('1.0.0'));
    const seen: { received: number; total: number; bytesPerSecond: number }[] = [];
    updater.on('download-progress', (p) => seen.push(p));
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(seen[0]).toMatchObject({ received: 0, total: 3_000_000 });
    expect(seen.at(-1)).toMatchObject({ received: 3_000_000, total: 3_000_000 });
    expect(seen.at(-1)!.bytesPerSecond).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(m.chunk_crc32.length);
  });
});

describe('downloader faults, mixed', () => {
  // A seeded schedule of faults across requests: each run ends in the right image or a clear error.
  function schedule(seed: number): Fault[] {
    let x = seed;
    const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const kinds = [
      () => ({ resetAfter: Math.floor(rnd() * SIZE) }),
      () => ({ cutAfter: Math.floor(rnd() * SIZE) }),
      () => ({ stallAfter: Math.floor(rnd() * 20_000) }),
      () => ({ corruptAt: Math.floor(rnd() * SIZE) }),
      () => ({ status: 503, retryAfter: '1' }),
      () => ({ ignoreRange: true, cutAfter: Math.floor(rnd() * SIZE) }),
      () => ({ extraBytes: 1000 }),
    ];
    return Array.from({ length: 6 }, () => kinds[Math.floor(rnd() * kinds.length)]!());
  }
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it('seed ' + seed + ': ' + JSON.stringify(schedule(seed)), async () => {
      const r = await run(schedule(seed), { download_retries: 10, download_timeout: 0.2 });
      expect(r.untouched).toBe(true);
      if (r.result.status === 'updated') expect(sha256(r.installed!)).toBe(sha256(r.data));
      else expect(r.result.status === 'failed' && r.result.message).toMatch(/untouched/);
      expect(r.result.status).toBe('updated'); // every schedule here is recoverable within 10 retries
    });
  }
});

describe('the progress rule (issue 13, slow drip)', () => {
  it('drops a connection that drips bytes below download_min_rate, and gives up after the retries', async () => {
    const data = image(50_000, 21);
    const m = await manifestFor(data, CHUNK);
    let connections = 0;
    const url = await listenLocal(
      createServer((req, res) => {
        if (!req.url!.endsWith('image.bin')) return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(m));
        connections++;
        res.writeHead(200, { 'Content-Length': data.length });
        // One byte every 20 ms, for ever: each byte would reset an idle timer.
        let at = 0;
        const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(data.subarray(at, ++at))), 20);
        res.on('close', () => clearInterval(drip));
      }),
    );
    const stateDir = await device('1.0.2');
    const { updater } = testUpdater({ ota_domain: url, device_id: 'dev1', download_min_rate: 1000, download_rate_window: 0.3, download_retries: 1, download_retry_delay: 0.01 }, stateDir);
    const t0 = Date.now();
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error).toMatchObject({ code: 'NETWORK', retryable: true, message: expect.stringMatching(/^the connection from byte 0 brought \d+ bytes in \d+\.\d s, below download_min_rate \(1000 bytes\/s\) at byte \d+ of 50000 \(2 faults in a row; 0 bytes kept for the next attempt\)$/) });
    expect(connections).toBe(2);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('the progress rule without a minimum rate', () => {
  for (const [what, rule] of [
    ['absent', undefined],
    ['0 bytes/s', { bytesPerSecond: 0, windowMs: 60_000 }],
  ] as [string, MinRate | undefined][]) {
    it('reads no clock per exchange or piece when download_min_rate is ' + what, () => {
      let reads = 0;
      const clock: Clock = { now: () => ++reads, date: () => 0, setTimer: () => () => undefined };
      const r = new ProgressRule(clock, rule);
      r.start();
      for (let i = 0; i < 100; i++) {
        r.arrived(4096, 0);
        r.handled();
      }
      expect(reads).toBe(0);
    });
  }
});

describe('a slot storage that reads in place (Espruino Storage, issue 17)', () => {
  // Modelled on Espruino's Storage (src/jsflash.c, jsfWriteFile): a write over bytes already
  // written fails ("File already written with different data"), and a read returns the bytes
  // where they lie. The download then keeps no chunk buffer: pieces go straight into the slot.
  function flashSlots() {
    const inner = memorySlots();
    const written = { a: new Uint8Array(0), b: new Uint8Array(0) };
    const writes: number[] = [];
    const slots: SlotStorage = {
      ...inner,
      inPlace: true,
      async open(slot, size) {
        const w = await inner.open(slot, size);
        written[slot] = new Uint8Array(size);
        return {
          ...w,
          async write(offset, data) {
            if (written[slot].subarray(offset, offset + data.length).some((x) => x === 1)) throw new Error('File already written with different data');
            written[slot].fill(1, offset, offset + data.length);
            writes.push(data.length);
            await w.write(offset, data);
          },
        };
      },
      async read(slot, offset, length) {
        return inner.bytes(slot).subarray(offset, offset + length);
      },
    };
    return { slots, inner, writes };
  }

  it('writes each piece where it goes, resumes after the bytes already written, and installs the image', async () => {
    const data = image(SIZE, 78);
    const server = await faultServer(await manifestFor(data, CHUNK), data, [{ cutAfter: 50_000 }]);
    const { slots, inner, writes } = flashSlots();
    const { clock } = compressedClock();
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', download_timeout: 0.3 }, await device('1.0.0'), { clock, random: () => 0.5, slots });
    const result = await updater.checkForUpdates();
    expect(result.status).toBe('updated');
    expect(sha256(Buffer.from(inner.bytes('b')))).toBe(sha256(data));
    // Mid-chunk (50 000 is not a multiple of 4096): fetched from the first byte not yet written.
    expect(server.ranges).toEqual(['bytes=0-', 'bytes=50000-']);
    expect(writes.reduce((a, b) => a + b, 0)).toBe(SIZE);
    expect(Math.max(...writes)).toBeLessThanOrEqual(CHUNK);
  });
});
