/**
 * Slow storage, stopping, and a full disk. A slot whose writes take longer than download_timeout
 * neither times the download out (the idle timeout and download_min_rate measure the network only)
 * nor gets a retry running beside a write; Updater.stop() aborts a running download, keeping what was verified
 * for the next check; a disk that fills during a download frees the partial slot, says so, and
 * the next check tries again. Real HTTP (test/helpers/fault-server.ts), real files.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSlots } from '../src/install/file-slots.js';
import type { SlotStorage } from '../src/install/slots.js';
import { nodeFileOps, type FileOps } from '../src/platform/node/file-ops.js';
import { faultServer } from './helpers/fault-server.js';
import { compressedClock, device, image, manifestFor, sha256, testUpdater, until } from './helpers/fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The device's file slots, with each write taking `delayMs(offset)` and every write logged. */
function slowSlots(stateDir: string, delayMs: (offset: number) => number) {
  const base = fileSlots(join(stateDir, 'slots'));
  const log = { writes: [] as number[], active: 0, overlapped: false };
  const slots: SlotStorage = Object.assign({}, base, {
    async open(slot: 'a' | 'b', size: number) {
      const w = await base.open(slot, size);
      return Object.assign({}, w, {
        async write(offset: number, data: Uint8Array) {
          if (++log.active > 1) log.overlapped = true;
          log.writes.push(offset);
          try {
            await sleep(delayMs(offset));
            await w.write(offset, data);
          } finally {
            log.active--;
          }
        },
      });
    },
  });
  return { slots, log };
}

describe('slow storage', () => {
  it('a slot write slower than download_timeout neither times out the download nor overlaps a retry', async () => {
    const data = image(16 * 1024, 41);
    const m = await manifestFor(data, 1024);
    const server = await faultServer(m, data);
    const stateDir = await device('1.0.0');
    // download_timeout 0.2 s; chunk 3 takes 0.6 s to write.
    const { slots, log } = slowSlots(stateDir, (offset) => (offset === 3 * 1024 ? 600 : 0));
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', download_timeout: 0.2 }, stateDir, { slots });
    const r = await updater.checkForUpdates();
    expect(r.status, lines.map((l) => l.message).join('\n')).toBe('updated');
    expect(log.overlapped).toBe(false);
    expect(log.writes).toEqual(Array.from({ length: 16 }, (_, i) => i * 1024));
    expect(server.ranges).toEqual(['bytes=0-']); // the network never went quiet: one request
    expect(sha256(readFileSync(join(stateDir, 'slots/b.bin')))).toBe(m.sha256);
  });

  it('a slot stalling 10 s on every write is not a slow drip: download_min_rate weighs network time only', async () => {
    // 1 MiB over a fast local connection, into a slot whose every 1 KiB write stalls the injected
    // clock 10 s (an SD card stalling on a write): ~100 bytes per second of wall time, far below
    // the default download_min_rate (1024 bytes/s over 60 s), yet the network was never slow.
    const data = image(1024 * 1024, 46);
    const m = await manifestFor(data, 1024);
    const server = await faultServer(m, data);
    const stateDir = await device('1.0.0');
    const { clock } = compressedClock();
    let stalls = 0;
    const stalling = Object.assign({}, clock, { now: () => clock.now() + stalls * 10_000 });
    const { slots, log } = slowSlots(stateDir, () => {
      stalls++;
      return 0;
    });
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir, { slots, clock: stalling });
    const r = await updater.checkForUpdates();
    expect(r.status, lines.map((l) => l.message).join('\n')).toBe('updated');
    expect(lines.some((l) => l.message.includes('download_min_rate'))).toBe(false);
    expect(server.ranges).toEqual(['bytes=0-']); // never dropped: one request
    expect(log.writes.length).toBe(1024);
    expect(sha256(readFileSync(join(stateDir, 'slots/b.bin')))).toBe(m.sha256);
  });

  it('stop() aborts a running download at once, keeps the verified chunks, and the next check resumes there', async () => {
    const data = image(64 * 1024, 42);
    const m = await manifestFor(data, 1024);
    const server = await faultServer(m, data);
    const stateDir = await device('1.0.0');
    const { slots, log } = slowSlots(stateDir, () => 20);
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir, { slots });
    const running = updater.checkForUpdates();
    await until('a few chunks are written', () => log.writes.length >= 5);
    await updater.stop();
    const r = await running;
    expect(r.status === 'failed' && r.error.code).toBe('STOPPED');
    const written = log.writes.length;
    await sleep(100);
    expect(log.writes.length).toBe(written); // nothing written after stop() resolved
    expect(log.active).toBe(0);
    expect(existsSync(join(stateDir, 'download.json'))).toBe(true);

    const again = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir).updater;
    expect((await again.checkForUpdates()).status).toBe('updated');
    expect(server.ranges[1]).toBe('bytes=' + written * 1024 + '-');
    expect(sha256(readFileSync(join(stateDir, 'slots/b.bin')))).toBe(m.sha256);
  });

  it('stop() aborts a download stalled on the network without waiting for download_timeout', async () => {
    const data = image(32 * 1024, 43);
    const m = await manifestFor(data, 1024);
    const server = await faultServer(m, data, { stallAfter: 4096 });
    const stateDir = await device('1.0.0');
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', download_timeout: 3600 }, stateDir);
    const progress: number[] = [];
    updater.on('download-progress', (p) => progress.push(p.received));
    const running = updater.checkForUpdates();
    await until('the server stalls', () => server.bytesSent >= 4096);
    await updater.stop();
    const r = await running;
    expect(r.status === 'failed' && r.error.code).toBe('STOPPED');
  });
});

describe('a full disk', () => {
  it('frees the partial slot, says how much the image needs, and the next check tries again', async () => {
    const data = image(64 * 1024, 44);
    const m = await manifestFor(data, 4096);
    const server = await faultServer(m, data);
    const stateDir = await device('1.0.0');
    // The file system has room when the download starts; something else fills it meanwhile, leaving
    // 20 KiB for the slot: the write that passes it fails with ENOSPC.
    let room = 20 * 1024;
    let asked = 0;
    const full: FileOps = Object.assign({}, nodeFileOps, {
      write(fd: number, bytes: Uint8Array, position: number) {
        if (room < bytes.length) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        room -= bytes.length;
        nodeFileOps.write(fd, bytes, position);
      },
      freeBytes: () => (asked++ === 0 ? 1 << 24 : room),
    });
    const slots = fileSlots(join(stateDir, 'slots'), undefined, full);
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir, { slots });
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error).toMatchObject({ code: 'DISK_FULL', retryable: false });
    expect(r.status === 'failed' && r.message).toContain('the disk is full: slot b needs 65536 bytes for the image and 0 bytes are free; the partial image was removed and the next check tries again');
    expect(readFileSync(join(stateDir, 'slots/b.bin')).length).toBe(0); // freed
    expect(lines.some((l) => l.level === 'ERROR' && l.message.includes('DISK_FULL'))).toBe(true);

    room = 1 << 24; // space was freed meanwhile
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(sha256(readFileSync(join(stateDir, 'slots/b.bin')))).toBe(m.sha256);
  });

  it('refuses before downloading when the file system has less room than the image', async () => {
    const data = image(64 * 1024, 45);
    const m = await manifestFor(data, 4096);
    const server = await faultServer(m, data);
    const stateDir = await device('1.0.0');
    const slots = fileSlots(join(stateDir, 'slots'), undefined, Object.assign({}, nodeFileOps, { freeBytes: () => 1000 }));
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir, { slots });
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error).toMatchObject({ code: 'IMAGE_TOO_LARGE', message: 'release 1.0.3 is 65536 bytes but slot b holds 0' });
    expect(server.ranges).toEqual([]);
  });
});
