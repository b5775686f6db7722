/**
 * Delta and gzip updates end to end: `publish` makes the patch with Debian's xdelta3 and the gzip,
 * `ota serve`'s server serves them, the device's updater picks the cheapest way, decodes into the
 * inactive slot, checks the SHA-256 of the image that lands, and falls back by itself.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../src/check/release.js';
import type { SlotStorage } from '../src/install/slots.js';
import type { Clock, StateStore } from '../src/platform/interfaces.js';
import { fileState } from '../src/platform/node/file-state.js';
import { fileSlots } from '../src/install/file-slots.js';
import { describeImage, publish } from '../src/server/release-store.js';
import { startServer } from '../src/server/server.js';
import { device, image, onCleanup, runCli, sha256, tempDir, testUpdater } from './helpers/fixtures.js';

/** 1 MiB of pseudo-random nibbles: varied, yet gzip halves it, as it does real firmware. */
const V1 = Buffer.from(image(1024 * 1024, 1).map((b) => b & 0x0f));
/** V1 with 4 KB changed in the middle: a patch-level change. */
const V2 = Buffer.concat([V1.subarray(0, 500000), image(4000, 2), V1.subarray(504000)]);

/** A release directory with 1.0.0 = V1, then 1.0.1 = V2 published with the given options. */
async function releases(options: { deltaFrom?: string[]; compress?: 'gzip' }) {
  const dir = join(tempDir(), 'releases');
  const files = tempDir();
  writeFileSync(join(files, 'v1'), V1);
  writeFileSync(join(files, 'v2'), V2);
  await publish({ dir, file: join(files, 'v1'), version: '1.0.0', audience: { device: 'dev1' } });
  const manifest = await publish({ dir, file: join(files, 'v2'), version: '1.0.1', audience: { device: 'dev1' }, ...options });
  return { dir, manifest };
}

/** Serves `dir`, recording the files the device fetched (`firmware/…`). */
async function serveRecording(dir: string) {
  const fetched: string[] = [];
  const server = await startServer({ dir, port: 0, log: (line) => line.startsWith('GET /firmware/') && fetched.push(line.split(' ')[1]!.slice('/firmware/'.length)) });
  onCleanup(() => server.close());
  return { url: server.url, fetched };
}

const kind = (name: string) => (name.endsWith('.vcdiff') ? 'patch' : name.endsWith('.gz') ? 'gzip' : 'image');

/** Rewrites a published file (as a faulty publisher would), with a manifest that describes it. */
async function replacePublished(dir: string, manifest: Manifest, which: 'patch' | 'gzip', edit: (data: Buffer) => void) {
  const entry = which === 'patch' ? manifest.patches![0]! : manifest.gzip!;
  const file = join(dir, entry.url);
  const data = readFileSync(file);
  edit(data);
  writeFileSync(file, data);
  const d = await describeImage(file, entry.chunk_size);
  Object.assign(entry, { size: d.size, sha256: d.sha256, chunk_crc32: d.crcs });
  writeFileSync(join(dir, 'v1/ota/device/latest/dev1'), JSON.stringify(manifest));
}

describe('delta updates', () => {
  it('moves only the patch (under 10 % of the image) and lands the exact image', async () => {
    const { dir, manifest } = await releases({ deltaFrom: ['1.0.0'], compress: 'gzip' });
    expect(manifest.patches).toHaveLength(1);
    expect(manifest.patches![0]!.base_sha256).toBe(sha256(V1));
    expect(manifest.patches![0]!.size).toBeLessThan(V2.length / 10);
    const server = await serveRecording(dir);
    const stateDir = await device('1.0.0', V1);
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(readFileSync(join(stateDir, 'slots/b.bin')).equals(V2)).toBe(true);
    expect(server.fetched.map(kind)).toEqual(['patch']);
    // Installed: the staged patch is removed, nothing resumes from it any more.
    expect(readdirSync(join(stateDir, 'transfers'))).toEqual([]);
  });

  it('removes the staged patch when it does not fit the running image, before the fallback installs', async () => {
    const { dir } = await releases({ deltaFrom: ['1.0.0'] });
    const server = await serveRecording(dir);
    const stateDir = await device('1.0.0', V1);
    const running = Buffer.from(V1);
    running[300000]! ^= 0xff;
    writeFileSync(join(stateDir, 'slots/a.bin'), running);
    // Noon, outside the maintenance window: the full image is fetched and verified, its install deferred.
    const noon: Clock = { now: () => performance.now(), date: () => Date.UTC(2026, 0, 1, 12), setTimer: () => () => undefined };
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', maintenance_window: '02:00-03:00' }, stateDir, { clock: noon });
    expect((await updater.checkForUpdates()).status).toBe('deferred');
    expect(server.fetched.map(kind)).toEqual(['patch', 'image']);
    expect(readFileSync(join(stateDir, 'slots/b.bin')).equals(V2)).toBe(true);
    expect(readdirSync(join(stateDir, 'transfers'))).toEqual([]);
  });

  it('falls back to the gzip when the running image is not the base, leaving the running slot untouched', async () => {
    const { dir } = await releases({ deltaFrom: ['1.0.0'], compress: 'gzip' });
    const server = await serveRecording(dir);
    const stateDir = await device('1.0.0', V1);
    // The boot state says V1, but the slot's bytes differ: the patch's Adler-32 checks catch it.
    const running = Buffer.from(V1);
    running[300000]! ^= 0xff;
    writeFileSync(join(stateDir, 'slots/a.bin'), running);
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(readFileSync(join(stateDir, 'slots/b.bin')).equals(V2)).toBe(true);
    expect(readFileSync(join(stateDir, 'slots/a.bin')).equals(running)).toBe(true);
    expect(server.fetched.map(kind)).toEqual(['patch', 'gzip']);
    expect(lines.some((l) => l.level === 'WARNING' && l.message.includes('delta update failed (DELTA_INVALID') && l.message.includes('Adler-32'))).toBe(true);
  });

  it('falls back to the full image when the patch is corrupt and no gzip is published', async () => {
    const { dir, manifest } = await releases({ deltaFrom: ['1.0.0'] });
    await replacePublished(dir, manifest, 'patch', (p) => (p[p.length - 3]! ^= 0x55));
    const server = await serveRecording(dir);
    const stateDir = await device('1.0.0', V1);
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(readFileSync(join(stateDir, 'slots/b.bin')).equals(V2)).toBe(true);
    expect(server.fetched.map(kind)).toEqual(['patch', 'image']);
  });

  it('after a power cut during the apply, resumes it at the last journaled window without downloading the patch again', async () => {
    // 20 MiB, so that the decode journals its position (every 16 MiB) before the cut at 17 MiB.
    const big1 = Buffer.from(image(20 * 1024 * 1024, 3).map((b) => b & 0x0f));
    const big2 = Buffer.concat([big1.subarray(0, 10000000), image(4000, 4), big1.subarray(10004000)]);
    const dir = join(tempDir(), 'releases');
    const files = tempDir();
    writeFileSync(join(files, 'v1'), big1);
    writeFileSync(join(files, 'v2'), big2);
    await publish({ dir, file: join(files, 'v1'), version: '1.0.0', audience: { device: 'dev1' } });
    await publish({ dir, file: join(files, 'v2'), version: '1.0.1', audience: { device: 'dev1' }, deltaFrom: ['1.0.0'] });
    const server = await serveRecording(dir);
    const stateDir = await device('1.0.0', big1);
    // The "power cut": a slot whose writes reaching past 17 MiB never complete; the updater is then abandoned.
    let cut: () => void = () => undefined;
    const reached = new Promise<void>((r) => (cut = r));
    const real = fileSlots(join(stateDir, 'slots'));
    const dying: SlotStorage = Object.assign({}, real, {
      async open(slot: 'a' | 'b', size: number) {
        const w = await real.open(slot, size);
        return Object.assign({}, w, {
          write: (offset: number, data: Uint8Array) => (offset + data.length > 17 * 1024 * 1024 ? (cut(), new Promise<void>(() => undefined)) : w.write(offset, data)),
        });
      },
    });
    // The slot syncs beside the decode: the cut comes once the journal recorded the 16 MiB boundary.
    let journaled: () => void = () => undefined;
    const recorded = new Promise<void>((r) => (journaled = r));
    const store = fileState(stateDir);
    const state: StateStore = Object.assign({}, store, {
      write: (name: string, text: string) => store.write(name, text).then(() => (name === 'decode.json' ? journaled() : undefined)),
    });
    void testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir, { slots: dying, state }).updater.checkForUpdates();
    await Promise.all([reached, recorded]);
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(readFileSync(join(stateDir, 'slots/b.bin')).equals(big2)).toBe(true);
    expect(server.fetched.map(kind)).toEqual(['patch']);
    expect(lines.some((l) => l.message.startsWith('Resuming the decode at byte ' + 16 * 1024 * 1024 + ' of ' + big2.length))).toBe(true);
  });
});

describe('gzip-compressed images', () => {
  it('are fetched compressed when no patch fits, and checked by the SHA-256 of the image that lands', async () => {
    const text = Buffer.from('a compressible firmware line\n'.repeat(40000));
    const dir = join(tempDir(), 'releases');
    const file = join(tempDir(), 'fw');
    writeFileSync(file, text);
    const manifest = await publish({ dir, file, version: '2.0.0', audience: { device: 'dev1' }, compress: 'gzip' });
    expect(manifest.gzip!.size).toBeLessThan(text.length / 50);
    const server = await serveRecording(dir);
    const stateDir = await device('1.0.0');
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(readFileSync(join(stateDir, 'slots/b.bin')).equals(text)).toBe(true);
    expect(server.fetched.map(kind)).toEqual(['gzip']);
  });

  it('fall back to the full image when the gzip is corrupt', async () => {
    const { dir, manifest } = await releases({ compress: 'gzip' });
    await replacePublished(dir, manifest, 'gzip', (g) => g.fill(0x42, 2000, 2100));
    const server = await serveRecording(dir);
    const stateDir = await device('1.0.0', image(1000, 5));
    const { updater, lines } = testUpdater({ ota_domain: server.url, device_id: 'dev1' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(readFileSync(join(stateDir, 'slots/b.bin')).equals(V2)).toBe(true);
    expect(server.fetched.map(kind)).toEqual(['gzip', 'image']);
    expect(lines.some((l) => l.level === 'WARNING' && l.message.includes('compressed download failed'))).toBe(true);
  });
});

describe('ota publish --delta-from', () => {
  it('says how to install xdelta3 when it is missing', async () => {
    const dir = join(tempDir(), 'releases');
    const file = join(tempDir(), 'fw');
    writeFileSync(file, V1);
    const r = await runCli(['publish', '--dir', dir, '--file', file, '--version', '1.0.1', '--device', 'd', '--delta-from', file], { PATH: '/nonexistent' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('apt-get install xdelta3');
  });

  it('says so when the gzip and the patch are left out for not being smaller than the image', async () => {
    const dir = join(tempDir(), 'releases');
    const files = tempDir();
    writeFileSync(join(files, 'old'), image(100000, 3)); // random bytes: neither gzip nor a patch from unrelated data is smaller
    writeFileSync(join(files, 'new'), image(100000, 4));
    const r = await runCli(['publish', '--dir', dir, '--file', join(files, 'new'), '--version', '1.0.1', '--device', 'd', '--compress', 'gzip', '--delta-from', join(files, 'old')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('; no gzip and no delta: not smaller than the image');
    expect(readdirSync(join(dir, 'firmware'))).toHaveLength(1); // the image alone
  });
});

describe('manifest fields for bundles, gzip and patches', () => {
  const file = { size: 1000, sha256: 'a'.repeat(64), chunk_size: 512, chunk_crc32: [1, 2], url: 'firmware/x' };
  const base = { ver: '1.0.1', ...file };

  it('are read into the release, URLs resolved against the server', () => {
    const r = parseManifest({ ...base, format: 'tar', gzip: { ...file, size: 600, chunk_crc32: [3, 4] }, patches: [{ ...file, size: 10, chunk_crc32: [5], base_sha256: 'B'.repeat(64) }] }, 'http://s');
    expect(r.format).toBe('tar');
    expect(r.gzip).toMatchObject({ size: 600, url: 'http://s/firmware/x', chunkCrc32: [3, 4] });
    expect(r.patches).toEqual([expect.objectContaining({ size: 10, baseSha256: 'b'.repeat(64), chunkCrc32: [5] })]);
    expect(parseManifest(base, 'http://s')).not.toHaveProperty('patches');
  });

  it('are refused naming the field when wrong', () => {
    const refused = (m: unknown) => {
      try {
        parseManifest(m, 'http://s');
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ ...base, format: 'zip' })).toContain('"format"');
    expect(refused({ ...base, gzip: { ...file, chunk_crc32: [1] } })).toContain('"gzip.chunk_crc32"');
    expect(refused({ ...base, patches: [{ ...file, base_sha256: 'xyz' }] })).toContain('"patches[0].base_sha256"');
    expect(refused({ ...base, patches: {} })).toContain('"patches"');
    expect(refused({ ...base, patches: Array(17).fill({ ...file, base_sha256: 'a'.repeat(64) }) })).toContain('at most 16');
  });
});
