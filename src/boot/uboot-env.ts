/** The boot selector of U-Boot boards with raw slots: the environment, through fw_setenv. */
import { spawn } from 'node:child_process';
import type { SlotName } from '../install/slots.js';
import type { BootSelector } from './boot-selector.js';

/** Attempts the fallback slot keeps while another slot is on trial. */
const FALLBACK_ATTEMPTS = 3;

function upper(slot: SlotName): string {
  return slot === 'a' ? 'A' : 'B';
}

/**
 * The U-Boot environment in RAUC's convention: `BOOT_ORDER` lists the slots to try, first the
 * next one, and `BOOT_A_LEFT`/`BOOT_B_LEFT` the attempts each has left (the boot script
 * decrements them and moves on when one reaches 0). Written in one `fw_setenv -s -` call, which
 * updates the redundant environment atomically.
 */
export function ubootSelector(fwSetenv = 'fw_setenv'): BootSelector {
  return {
    apply(state) {
      const other: SlotName = state.next === 'a' ? 'b' : 'a';
      const script =
        'BOOT_ORDER ' + upper(state.next) + ' ' + upper(other) + '\n' +
        'BOOT_' + upper(state.next) + '_LEFT ' + state.attemptsLeft + '\n' +
        // Behind a trial, the confirmed slot stays bootable; behind a confirmed slot, the other holds nothing to boot.
        'BOOT_' + upper(other) + '_LEFT ' + (state.trial ? FALLBACK_ATTEMPTS : 0) + '\n';
      return new Promise((resolve, reject) => {
        const child = spawn(fwSetenv, ['-s', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', (e) => reject(new Error(fwSetenv + ' could not run: ' + e.message)));
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(fwSetenv + ' exited with ' + code + ': ' + err.trim()))));
        // A tool that exits without reading its input closes the pipe (EPIPE): its exit code tells.
        child.stdin.on('error', () => undefined);
        child.stdin.end(script);
      });
    },
  };
}
