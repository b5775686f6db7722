/**
 * GRUB boards with A/B slots, in RAUC's convention (rauc/rauc src/bootloaders/grub.c and
 * contrib/grub.conf): `ORDER` lists the boot names, `A_OK`/`B_OK` say a slot is good and
 * `A_TRY`/`B_TRY` that GRUB already tried it once (grub.conf sets it when it boots the slot;
 * a slot with `TRY=1` is skipped). Written with `grub-editenv <file> set`, one call per transition.
 */
import type { BootSelector, SelectorState } from './boot-selector.js';
import { bootname, cmdlineSlot, parseEnv, runTool, slotOf } from './loader-tools.js';
import { otherSlot } from './boot-state.js';

/** Where the GRUB environment and the kernel command line are. */
export interface GrubOptions {
  /** The environment block (RAUC's `grubenv` setting), e.g. /boot/grub/grubenv. */
  grubenv: string;
  grubEditenv?: string;
  /** The kernel command line (default /proc/cmdline), where `rauc.slot=` names the booted slot. */
  cmdline?: string;
}

/**
 * The variables a transition sets, as RAUC sets them: trial → `set_primary` (`X_OK=1`, `X_TRY=0`,
 * `ORDER` with X first); the confirmed slot, while it runs, → `set_state(good)` (`X_OK=1`,
 * `X_TRY=0`: grub.conf sets `X_TRY=1` whenever it boots X); the other slot untouched unless it
 * holds nothing bootable → `set_state(bad)` (`Y_OK=0`, `Y_TRY=0`).
 */
export function grubVariables(state: SelectorState): string[] {
  const next = bootname(state.next);
  const other = bootname(otherSlot(state.next));
  const vars: string[] = [];
  if (state.booted === state.confirmed) vars.push(bootname(state.confirmed) + '_OK=1', bootname(state.confirmed) + '_TRY=0');
  if (state.trial) vars.push(next + '_OK=1', next + '_TRY=0', 'ORDER=' + next + ' ' + other);
  else if (!state.otherBootable) vars.push(other + '_OK=0', other + '_TRY=0');
  return vars;
}

/** The GRUB environment as the boot selector. */
export function grubSelector(options: GrubOptions): BootSelector {
  const tool = options.grubEditenv ?? 'grub-editenv';
  return {
    async apply(state) {
      const vars = grubVariables(state);
      if (vars.length > 0) await runTool(tool, [options.grubenv, 'set'].concat(vars));
    },
    async booted() {
      const slot = cmdlineSlot(options.cmdline ?? '/proc/cmdline');
      if (slot === null) return null;
      const env = parseEnv(await runTool(tool, [options.grubenv, 'list']));
      const next = slotOf((env.ORDER ?? '').split(' ')[0]) ?? slot;
      // GRUB gives a slot one try per `set_primary`: good and not yet tried.
      const left = env[bootname(next) + '_OK'] === '1' && env[bootname(next) + '_TRY'] === '0' ? 1 : 0;
      return { slot, next, left, triesPerApply: 1 };
    },
  };
}
