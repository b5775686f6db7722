/**
 * What `confirm()` checks of the slot on trial: its bytes hash to the installed image, unless the
 * operating system has not restarted since the image was written and verified (the same system
 * boot id: a re-read would come from the page cache). After a real reboot, or when either boot id
 * is unknown, the slot is read and hashed again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initialBootState } from '../src/boot/boot-state.js';
import { loadBootState } from '../src/boot/boot-store.js';
import { fileSlots } from '../src/install/file-slots.js';
import type { SlotStorage } from '../src/install/slots.js';
import { memoryState } from '../src/platform/memory-state.js';
import { device, image, releaseDir, serve, testUpdater } from './helpers/fixtures.js';

/** A device with 1.1.0 installed in slot b during system boot `installedIn` and booted on trial. */
async function onTrial(installedIn: string | null) {
  const fw = image(20_000, 46);
  const server = await serve((await releaseDir('1.1.0', fw)).dir);
  const stateDir = await device('1.0.0');
  const boot = { id: installedIn };
  // The real file slots, counting the bytes read back.
  const real = fileSlots(join(stateDir, 'slots'));
  const read = { bytes: 0 };
  const slots: SlotStorage = Object.assign({}, real, {
    async read(slot: 'a' | 'b', offset: number, length: number, into?: Uint8Array) {
      const data = await real.read(slot, offset, length, into);
      read.bytes += data.length;
      return data;
    },
  });
  const t = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir, { slots, systemBootId: () => boot.id });
  expect((await t.updater.checkForUpdates()).status).toBe('updated');
  await t.updater.boot();
  read.bytes = 0;
  return { ...t, stateDir, boot, read, size: fw.length, slot: join(stateDir, 'slots/b.bin') };
}

function tamper(slot: string): void {
  const bytes = readFileSync(slot);
  bytes[12345]! ^= 0xff;
  writeFileSync(slot, bytes);
}

describe('what is confirmed', () => {
  it('records the system boot in which the image was installed (Linux boot_id on the Node platform)', async () => {
    const fw = image(3000, 47);
    const server = await serve((await releaseDir('1.1.0', fw)).dir);
    const stateDir = await device('1.0.0');
    const { updater } = testUpdater({ ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir);
    expect((await updater.checkForUpdates()).status).toBe('updated');
    const state = JSON.parse(readFileSync(join(stateDir, 'boot.json'), 'utf8'));
    expect(state.slots.b.system_boot_id).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  });

  it('in the same system boot, confirms without reading the slot again', async () => {
    const t = await onTrial('boot-1');
    expect(JSON.parse(readFileSync(join(t.stateDir, 'boot.json'), 'utf8')).slots.b.system_boot_id).toBe('boot-1');
    await t.updater.confirm();
    expect(t.read.bytes).toBe(0);
    expect((await t.updater.status()).state).toBe('confirmed');
    expect(t.lines.map((l) => l.message)).toContain('Slot b not hashed again: written and verified in this system boot');
  });

  it('after the system restarted, reads the slot again and confirms it when it holds the image', async () => {
    const t = await onTrial('boot-1');
    t.boot.id = 'boot-2';
    await t.updater.confirm();
    expect(t.read.bytes).toBe(t.size);
    expect((await t.updater.status()).state).toBe('confirmed');
    expect(t.lines.map((l) => l.message)).toContain('Slot b hashed again: the system restarted since it was written, or cannot tell');
  });

  it('after the system restarted, nothing is confirmed whose bytes do not hash to what was installed (a slot decayed or written over)', async () => {
    const t = await onTrial('boot-1');
    t.boot.id = 'boot-2';
    tamper(t.slot);
    await expect(t.updater.confirm()).rejects.toThrow('slot b does not hold the image installed there (1.1.0');
    expect((await t.updater.status()).state).toBe('trial');
  });

  it('reads the slot again when the system boot is unknown now, or was not recorded (an older boot.json)', async () => {
    const unknownNow = await onTrial('boot-1');
    unknownNow.boot.id = null;
    tamper(unknownNow.slot);
    await expect(unknownNow.updater.confirm()).rejects.toThrow('does not hold the image installed there');

    const notRecorded = await onTrial(null);
    expect(JSON.parse(readFileSync(join(notRecorded.stateDir, 'boot.json'), 'utf8')).slots.b).not.toHaveProperty('system_boot_id');
    notRecorded.boot.id = 'boot-1';
    await notRecorded.updater.confirm();
    expect(notRecorded.read.bytes).toBe(notRecorded.size);
  });

  it('a boot.json whose system_boot_id is not a string is malformed, as any other field', async () => {
    const store = memoryState();
    const state = initialBootState({ version: '1.0.0', sha256: 'ab', size: 1, system_boot_id: 'boot-1' }, 3);
    await store.write('boot.json', JSON.stringify(state));
    expect((await loadBootState(store))!.slots.a!.system_boot_id).toBe('boot-1');
    await store.write('boot.json', JSON.stringify(state).replace('"boot-1"', '5'));
    await expect(loadBootState(store)).rejects.toThrow('boot.json is malformed');
  });
});
