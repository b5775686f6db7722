/**
 * U-Boot boards with raw A/B slots, in RAUC's convention (rauc/rauc src/bootloaders/uboot.c and
 * contrib/uboot.sh): `BOOT_ORDER` lists the boot names to try in order, `BOOT_A_LEFT` and
 * `BOOT_B_LEFT` the tries each has left. The boot script decrements a slot's counter with
 * `setexpr` and tests it as `0x${BOOT_A_LEFT}`, so counters are written in hexadecimal, as RAUC
 * writes them. Each transition is one `fw_setenv -s -` call, which libubootenv stores in the
 * redundant environment as one write.
 */
import type { BootSelector, SelectorState } from './boot-selector.js';
import { bootname, cmdlineSlot, parseEnv, runTool, slotOf } from './loader-tools.js';
import { otherSlot } from './boot-state.js';

/** Where the U-Boot tools and the kernel command line are. */
export interface UbootOptions {
  fwSetenv?: string;
  fwPrintenv?: string;
  /** fw_env.config for both tools; empty: their default (/etc/fw_env.config). */
  config?: string;
  /** The kernel command line (default /proc/cmdline), where `rauc.slot=` names the booted slot. */
  cmdline?: string;
}

/**
 * The variables a transition sets, as RAUC sets them: a slot put on trial is made primary
 * (`mark-active`: its counter, then `BOOT_ORDER` with it first); the confirmed slot, while it is
 * the one running, is marked good (its counter refilled, as rauc-mark-good does at every boot;
 * the other slot's counter left alone); a slot that holds nothing bootable is marked bad (removed
 * from `BOOT_ORDER`, counter 0).
 */
export function ubootVariables(state: SelectorState): Record<string, string> {
  const next = bootname(state.next);
  const other = bootname(otherSlot(state.next));
  const vars: Record<string, string> = {};
  if (state.booted === state.confirmed) vars['BOOT_' + bootname(state.confirmed) + '_LEFT'] = state.maxAttempts.toString(16);
  if (state.trial) {
    vars['BOOT_' + next + '_LEFT'] = state.attemptsLeft.toString(16);
    vars.BOOT_ORDER = next + ' ' + other;
  } else if (!state.otherBootable) {
    vars.BOOT_ORDER = next;
    vars['BOOT_' + other + '_LEFT'] = '0';
  }
  return vars;
}

/** The U-Boot environment as the boot selector. */
export function ubootSelector(options: UbootOptions = {}): BootSelector {
  const config = options.config ? ['-c', options.config] : [];
  return {
    async apply(state) {
      const vars = ubootVariables(state);
      const script = Object.keys(vars).map((k) => k + '=' + vars[k] + '\n').join('');
      if (script !== '') await runTool(options.fwSetenv ?? 'fw_setenv', config.concat(['-s', '-']), script);
    },
    async booted() {
      const slot = cmdlineSlot(options.cmdline ?? '/proc/cmdline');
      if (slot === null) return null;
      const env = parseEnv(await runTool(options.fwPrintenv ?? 'fw_printenv', config));
      const next = slotOf((env.BOOT_ORDER ?? '').split(' ')[0]) ?? slot;
      const left = parseInt(env['BOOT_' + bootname(next) + '_LEFT'] ?? '0', 16);
      return { slot, next, left: left > 0 ? left : 0 };
    },
  };
}
