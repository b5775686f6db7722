/** Slot and boot-selector implementations: in memory, raw partitions with U-Boot's environment, the current link. */
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createUpdater } from '../src/index.js';
import { memorySelector } from '../src/boot/memory-selector.js';
import { cmdlineSlot } from '../src/boot/loader-tools.js';
import { fileSlots } from '../src/install/file-slots.js';
import { nodeFileOps, type FileOps } from '../src/platform/node/file-ops.js';
import { memorySlots } from '../src/install/memory-slots.js';
import { hashSlot, type SlotName } from '../src/install/slots.js';
import { commandReboot, sha256Hasher } from '../src/platform/node/platform.js';
import { memoryState } from '../src/platform/memory-state.js';
import { ubootLoader } from './helpers/boot-loaders.js';
import { image, readFileOrEmpty, releaseDir, serve, sha256, tempDir } from './helpers/fixtures.js';

const quiet = { log: () => undefined };

describe('in-memory slots', () => {
  it('carry a whole update with boot control, no files involved', async () => {
    const fw = image(100_000, 3);
    const server = await serve((await releaseDir('2.0.0', fw)).dir);
    const slots = memorySlots();
    const state = memoryState();
    const selector = memorySelector();
    const reboots: string[] = [];
    const updater = createUpdater({
      config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' },
      platform: { slots, state, bootSelector: selector, logger: quiet, reboot: async (r) => void reboots.push(r.slot) },
    });
    expect(await updater.checkForUpdates()).toMatchObject({ status: 'updated', slot: 'b' });
    expect(sha256(Buffer.from(slots.bytes('b')))).toBe(sha256(fw));
    expect(selector.last).toEqual({ booted: 'a', next: 'b', trial: true, attemptsLeft: 3, confirmed: 'a', maxAttempts: 3, otherBootable: true });
    await updater.boot();
    await updater.confirm();
    expect(selector.last).toEqual({ booted: 'b', next: 'b', trial: false, attemptsLeft: 3, confirmed: 'b', maxAttempts: 3, otherBootable: true });
    expect(Object.keys(state.docs)).toEqual(['boot.json', 'check.json']); // the boot state, and the last check (for status)
  });

  it('refuse to write past their capacity', async () => {
    const w = await memorySlots(10).open('a', 10);
    await expect(w.write(8, new Uint8Array(4))).rejects.toThrow('write past the end of slot a');
  });
});

describe('raw slots with the U-Boot environment', () => {
  it('write the image into the inactive partition in place and set the environment as RAUC does (real fw_setenv)', async () => {
    const dir = tempDir();
    const partA = join(dir, 'mmcblk0p2');
    const partB = join(dir, 'mmcblk0p3');
    writeFileSync(partA, Buffer.alloc(256 * 1024, 0xaa));
    writeFileSync(partB, Buffer.alloc(256 * 1024, 0xbb));
    const fw = image(100_000, 9);
    const server = await serve((await releaseDir('2.0.0', fw)).dir);
    const uboot = ubootLoader(dir);
    const updater = createUpdater({
      config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', slot_a: partA, slot_b: partB, slot_size: 256 * 1024, fw_env_config: uboot.config, kernel_cmdline: uboot.cmdline },
      stateDir: join(dir, 'state'),
      platform: { logger: quiet, reboot: async () => undefined },
    });
    expect((await updater.checkForUpdates()).status).toBe('updated');
    const b = readFileSync(partB);
    expect(b.length).toBe(256 * 1024); // never resized
    expect(sha256(b.subarray(0, fw.length))).toBe(sha256(fw));
    expect(b[fw.length]).toBe(0xbb);
    expect(readFileSync(partA).every((x) => x === 0xaa)).toBe(true); // the running slot is untouched
    expect(uboot.env()).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: '3', BOOT_A_LEFT: '3' });
    writeFileSync(uboot.cmdline, 'root=/dev/mmcblk0p3 rauc.slot=B\n');
    await updater.boot();
    expect(uboot.env()).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: '2', BOOT_A_LEFT: '3' });
    await updater.confirm();
    expect(uboot.env()).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: '3', BOOT_A_LEFT: '3' });
  });

  /** A device on two raw partitions of `size` bytes, offered a 5000-byte release 2.0.0. */
  async function rawDevice(size: number, fwSetenv: string) {
    const dir = tempDir();
    writeFileSync(join(dir, 'a'), Buffer.alloc(size));
    writeFileSync(join(dir, 'b'), Buffer.alloc(size));
    const server = await serve((await releaseDir('2.0.0', image(5000))).dir);
    return createUpdater({
      config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', slot_a: join(dir, 'a'), slot_b: join(dir, 'b'), slot_size: size, fw_setenv: fwSetenv },
      stateDir: join(dir, 'state'),
      platform: { logger: quiet },
    });
  }

  it('refuse an image larger than the partition before downloading', async () => {
    const r = await (await rawDevice(1000, '/bin/true')).checkForUpdates();
    expect(r.status === 'failed' && r.error).toMatchObject({ code: 'IMAGE_TOO_LARGE', message: 'release 2.0.0 is 5000 bytes but slot b holds 1000' });
  });

  it('fail clearly, without crashing, when fw_setenv fails without reading its input', async () => {
    const r = await (await rawDevice(10_000, '/bin/false')).checkForUpdates();
    expect(r.status === 'failed' && r.message).toContain('/bin/false exited with 1');
  });

  it('need both partitions', () => {
    expect(() => createUpdater({ config: { device_id: 'd', slot_a: '/dev/sda2' } })).toThrow('keys "slot_a" and "slot_b" go together');
  });
});

describe('file slots', () => {
  it('keep `current` linked to the running slot', async () => {
    const fw = image(20_000, 4);
    const server = await serve((await releaseDir('2.0.0', fw)).dir);
    const stateDir = tempDir();
    const updater = createUpdater({ config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0' }, stateDir, platform: { logger: quiet, reboot: async () => undefined } });
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(readlinkSync(join(stateDir, 'current'))).toBe('slots/a.bin');
    await updater.boot();
    expect(readlinkSync(join(stateDir, 'current'))).toBe('slots/b.bin');
    expect(sha256(readFileSync(join(stateDir, 'current')))).toBe(sha256(fw));
  });

  it('find and remove a bundle directory through their FileOps, as every other file operation', async () => {
    const dir = tempDir();
    const calls: string[] = [];
    const ops: FileOps = Object.assign({}, nodeFileOps, {
      exists: (path: string) => (calls.push('exists ' + path), nodeFileOps.exists(path)),
      removeTree: (path: string) => (calls.push('removeTree ' + path), nodeFileOps.removeTree(path)),
    });
    const slots = fileSlots(dir, undefined, ops);
    mkdirSync(join(dir, 'b'));
    expect(slots.locate('b')).toBe(join(dir, 'b'));
    await slots.prepare!('b', undefined);
    expect(slots.locate('b')).toBe(join(dir, 'b.bin'));
    expect(calls).toEqual(['exists ' + join(dir, 'b'), 'removeTree ' + join(dir, 'b'), 'exists ' + join(dir, 'b')]);
  });

  it('read the booted slot from the kernel command line through a FileOps', () => {
    const ops: FileOps = Object.assign({}, nodeFileOps, { readFile: (path: string) => (path === '/cmdline' ? 'quiet rauc.slot=B root=/dev/mmcblk0p3\n' : null) });
    expect(cmdlineSlot('/cmdline', ops)).toBe('b');
    expect(cmdlineSlot('/absent', ops)).toBe(null);
  });

  it('reboot with the configured command', async () => {
    const server = await serve((await releaseDir('2.0.0', image(1000))).dir);
    const stateDir = tempDir();
    const marker = join(stateDir, 'rebooted');
    const updater = createUpdater({ config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', reboot_command: 'echo "$0" > ' + marker }, stateDir, platform: { logger: quiet } });
    const rebooting = new Promise((r) => updater.once('rebooting', r));
    expect((await updater.checkForUpdates()).status).toBe('updated');
    await rebooting;
    for (let i = 0; i < 100 && !readFileOrEmpty(marker); i++) await new Promise((r) => setTimeout(r, 10));
    expect(readFileOrEmpty(marker)).toBe('sh\n');
  });

  it('reboot with a command that hangs: killed with what it started after the timeout, a logged error naming reboot_command and saying the next check tries again', async () => {
    const server = await serve((await releaseDir('2.0.0', image(1000))).dir);
    const stateDir = tempDir();
    const pidFile = join(stateDir, 'reboot.pid');
    // `sleep` is the shell's child (not exec'd in its place), so only killing the group ends it.
    const command = 'echo $$ > ' + pidFile + '; sleep 30; true';
    const lines: string[] = [];
    const logger = { log: (level: string, message: string) => void lines.push(level + ' ' + message) };
    const updater = createUpdater({
      config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', auto_update: true },
      stateDir,
      platform: { logger, reboot: commandReboot(command, 0.5) },
    });
    updater.start(); // automatic checks, so that a failed reboot is tried again by the next one
    const started = Date.now();
    expect((await updater.checkForUpdates()).status).toBe('updated');
    for (let i = 0; i < 500 && !lines.some((l) => l.startsWith('ERROR Reboot failed')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(Date.now() - started).toBeLessThan(8000); // not the 30 s of the command
    expect(lines.find((l) => l.startsWith('ERROR'))).toMatch(/^ERROR Reboot failed: reboot_command ".*sleep 30; true" was killed \(SIGKILL, over 0\.5 s\); trying again with the next check, in /);
    const pid = Number(readFileOrEmpty(pidFile));
    expect(pid).toBeGreaterThan(0);
    // No process of the command's group is left, once init has reaped the killed ones (a zombie still takes signals).
    const groupAlive = () => {
      try {
        return process.kill(-pid, 0);
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 150 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(groupAlive()).toBe(false);
    await updater.stop();
  });

  it('reboot that fails without automatic checks: the log says no retry is planned and what tries again', async () => {
    const server = await serve((await releaseDir('2.0.0', image(1000))).dir);
    const lines: string[] = [];
    const logger = { log: (level: string, message: string) => void lines.push(level + ' ' + message) };
    const updater = createUpdater({
      config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', auto_update: false },
      stateDir: tempDir(),
      platform: { logger, reboot: commandReboot('exit 3', 5) },
    });
    updater.start();
    expect((await updater.checkForUpdates()).status).toBe('updated');
    for (let i = 0; i < 250 && !lines.some((l) => l.startsWith('ERROR Reboot failed')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(lines.find((l) => l.startsWith('ERROR'))).toBe(
      'ERROR Reboot failed: reboot_command "exit 3" exited with code 3; the next check or trigger tries again (no automatic check is planned)',
    );
    // As it says: the next check reboots into the slot installed (nothing is fetched again).
    const again = new Promise((r) => updater.once('rebooting', r));
    await updater.checkForUpdates();
    expect(await again).toMatchObject({ version: '2.0.0' });
    await updater.stop();
  });

  it('reboot with a command that fails: the error names reboot_command, its exit code and its last stderr line', async () => {
    await expect(commandReboot('echo "no such unit" >&2; exit 3', 5)()).rejects.toThrow('reboot_command "echo \\"no such unit\\" >&2; exit 3" exited with code 3: no such unit');
  });

  it('are hashed back through one reused buffer (a new 1 MiB buffer per read raised the peak RSS of a 256 MiB update from 57 to 92 MiB)', async () => {
    const dir = tempDir();
    const fw = image(3 * 1024 * 1024 + 5, 9);
    writeFileSync(join(dir, 'a.bin'), fw);
    const slots = fileSlots(dir);
    const buffers = new Set<ArrayBufferLike>();
    const read = slots.read;
    slots.read = async (slot: SlotName, offset: number, length: number, into?: Uint8Array) => {
      if (into === undefined) throw new Error('a new buffer per read');
      const data = await read(slot, offset, length, into);
      buffers.add(data.buffer);
      return data;
    };
    expect(await hashSlot(slots, 'a', fw.length, sha256Hasher())).toBe(sha256(fw));
    expect(buffers.size).toBe(1);
  });
});

