import { sha256Hasher } from '../src/platform/node/platform.js';
import { describe, expect, it } from 'vitest';
import { validateEsp32Image } from '../src/install/esp32-image.js';
import { esp32Image } from './helpers/esp32.js';
import { device, releaseDir, serve, testUpdater } from './helpers/fixtures.js';

function check(img: Buffer) {
  return validateEsp32Image(async (offset, length) => img.subarray(offset, offset + length), img.length, sha256Hasher(), 4096);
}

function flip(img: Buffer, at: number): Buffer {
  const copy = Buffer.from(img);
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}

describe('ESP32 image validation', () => {
  it('accepts well-formed images, with and without the appended SHA-256', async () => {
    await expect(check(esp32Image([40_000, 7, 1000, 300_000, 16]))).resolves.toBeUndefined();
    await expect(check(esp32Image([5000], false))).resolves.toBeUndefined();
  });

  const good = esp32Image([10_000, 2000]);
  const cases: [string, Buffer, string][] = [
    ['a wrong magic', Buffer.concat([Buffer.from([0xe8]), good.subarray(1)]), 'first byte is 0xe8, not the magic 0xe9'],
    ['too many segments', Buffer.concat([good.subarray(0, 1), Buffer.from([17]), good.subarray(2)]), 'header announces 17 segments'],
    ['a truncated image', good.subarray(0, 5000), 'segment 0 (10000 bytes at byte 32) runs past the end of the 5000-byte image'],
    ['a header only', good.subarray(0, 10), 'it is 10 bytes, shorter than the 24-byte header'],
    ['a flipped data byte', flip(good, 100), 'checksum byte is'],
    ['a bad appended hash', Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good[good.length - 1]! ^ 1])]), 'appended SHA-256 is'],
    ['trailing bytes', Buffer.concat([good, Buffer.alloc(10)]), '10 bytes follow the end of the image'],
  ];
  for (const [what, img, message] of cases) {
    it('refuses ' + what, async () => {
      await expect(check(img)).rejects.toMatchObject({ code: 'IMAGE_INVALID', message: expect.stringContaining('not a valid ESP32 image: ' + message) });
    });
  }

  it('keeps a device on its running slot when a published image is not a valid ESP32 image', async () => {
    const bad = flip(esp32Image([30_000]), 500);
    const server = await serve((await releaseDir('1.0.1', bad)).dir);
    const { updater, reboots } = testUpdater({ ota_domain: server.url, device_id: 'dev1', image_format: 'esp32' }, await device('1.0.0'));
    const r = await updater.checkForUpdates();
    expect(r.status === 'failed' && r.error.code).toBe('IMAGE_INVALID');
    expect(r.status === 'failed' && r.message).toContain('the running firmware 1.0.0 (slot a) is untouched');
    expect(reboots).toEqual([]);
    expect(await updater.status()).toMatchObject({ slot: 'a', pending: null });

    const fine = await serve((await releaseDir('1.0.2', esp32Image([30_000]))).dir);
    const ok = testUpdater({ ota_domain: fine.url, device_id: 'dev1', image_format: 'esp32' }, await device('1.0.0'));
    expect((await ok.updater.checkForUpdates()).status).toBe('updated');
  });
});
