/**
 * The boot loader decides what booted. Boards booted by U-Boot (the boot decision of RAUC's
 * contrib/uboot.sh over a redundant environment, read and written with the real fw_printenv and
 * fw_setenv) and by GRUB (contrib/grub.conf over a grubenv, with the real grub-editenv): the
 * agent learns the booted slot from `rauc.slot=` on the kernel command line and the environment,
 * writes the variables as RAUC's backends write them (counters in hex), and never confirms a
 * slot that did not come up.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createUpdater } from '../src/index.js';
import { makeBoard, powerOn, releases, versionIn } from './helpers/cut-board.js';
import { tempDir } from './helpers/fixtures.js';

describe('U-Boot boards (RAUC contrib/uboot.sh, real fw_setenv)', () => {
  it('a power cut between saving boot.json and fw_setenv: the board boots A, counts a failed attempt, retries B, and confirms B only once B really ran', async () => {
    const server = await releases();
    const board = await makeBoard('uboot');
    await powerOn(board, { record: true, server });
    // The cut: boot.json already says "1.1.0 on trial in b", the environment still boots A.
    let cut = -1;
    for (const p of board.cutPoints()) {
      if (!board.describe(p).startsWith('external')) continue;
      board.crash(p, 'durable')!.restore();
      const boot = JSON.parse((await board.store().read('boot.json'))!);
      if (boot.trial === 'b' && boot.slots.b?.version === '1.1.0' && board.loader!.env().BOOT_ORDER!.startsWith('A')) {
        cut = p;
        break;
      }
    }
    expect(cut).toBeGreaterThan(0);
    const run = await powerOn(board, { server });
    // A boots (B was never tried: one failed attempt, and the environment now points at B); then B on trial, confirmed.
    expect(run.boots.slice(0, 2)).toEqual(['1.0.0', '1.1.0']);
    expect(run.lines.join('\n')).toContain('Slot b was to boot on trial but the boot loader booted slot a');
    expect(run.lines.join('\n')).toContain('Slot b (1.1.0) confirmed');
  });

  it('a slot that panics on every boot: U-Boot falls back after its tries, the agent reverts it and never confirms it', async () => {
    const server = await releases();
    const board = await makeBoard('uboot');
    const run = await powerOn(board, { server, panics: ['1.1.0'] });
    expect(run.boots).toEqual(['1.0.0', '-', '-', '-', '1.0.0']);
    expect(run.status).toMatchObject({ slot: 'a', version: '1.0.0', state: 'reverted' });
    expect(run.lines.join('\n')).toContain('Update reverted: slot b (1.1.0) did not come up');
    expect(board.loader!.env()).toMatchObject({ BOOT_ORDER: 'A', BOOT_B_LEFT: '0' });
    expect(run.lines.join('\n')).not.toContain('confirmed');
  });

  it('boot_attempts 12: counters are hex as RAUC writes them, the panicking slot gets exactly 12 tries, and mark-good leaves the other counter', async () => {
    const server = await releases();
    const panicking = await makeBoard('uboot');
    const run = await powerOn(panicking, { server, panics: ['1.1.0'], settings: { boot_attempts: 12 } });
    expect(run.boots.filter((b) => b === '-').length).toBe(12);
    expect(run.status).toMatchObject({ slot: 'a', version: '1.0.0', state: 'reverted' });

    // A healthy update with boot_attempts 12, step by step against the real environment.
    const board = await makeBoard('uboot');
    const updater = createUpdater({
      config: { ota_domain: server.url, device_id: 'dev1', firmware_version: '1.0.0', boot_attempts: 12 },
      stateDir: tempDir(),
      platform: Object.assign(board.parts(false), { logger: { log: () => undefined }, reboot: async () => undefined }),
    });
    server.offer('1.1.0');
    expect(board.loader!.boot()).toBe('a');
    await updater.boot();
    expect((await updater.checkForUpdates()).status).toBe('updated');
    expect(board.loader!.env()).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: 'c', BOOT_A_LEFT: 'c' });
    expect(board.loader!.boot()).toBe('b');
    expect(board.loader!.env().BOOT_B_LEFT).toBe('b'); // U-Boot's setexpr counted down in hex
    execFileSync('fw_setenv', ['-c', join(board.loader!.cmdline, '../fw_env.config'), 'BOOT_A_LEFT', '5']);
    await updater.boot();
    await updater.confirm();
    // mark-good refills b's counter and leaves a's as U-Boot left it.
    expect(board.loader!.env()).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: 'c', BOOT_A_LEFT: '5' });
    expect(versionIn(board.content('b'))).toBe('1.1.0');
  });
});

describe('GRUB boards (RAUC contrib/grub.conf, real grub-editenv)', () => {
  it('updates, confirms, and reverts an unhealthy update, booting only what the environment selects', async () => {
    const server = await releases();
    const board = await makeBoard('grub');
    const run = await powerOn(board, { server });
    expect(run.status).toMatchObject({ slot: 'b', version: '1.1.0', state: 'reverted' });
    // 1.2.0 in a was marked bad; b (1.1.0) is good. RAUC's GRUB backend leaves ORDER as set_primary wrote it.
    expect(board.loader!.env()).toMatchObject({ ORDER: 'A B', B_OK: '1', B_TRY: '0', A_OK: '0' });
  });

  it('a slot that does not come up: GRUB gives it one try per arming, the agent re-arms it boot_attempts times, then reverts it', async () => {
    const server = await releases();
    const board = await makeBoard('grub');
    const run = await powerOn(board, { server, panics: ['1.1.0'] });
    expect(run.boots).toEqual(['1.0.0', '-', '1.0.0', '-', '1.0.0', '-', '1.0.0']);
    expect(run.status).toMatchObject({ slot: 'a', version: '1.0.0', state: 'reverted' });
    expect(board.loader!.env()).toMatchObject({ B_OK: '0', A_OK: '1' });
  });
});
