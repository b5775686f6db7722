/**
 * Boot loaders for the tests: the boot decisions of RAUC's example scripts, run against real
 * environments with Debian's real tools. Transcribed from rauc/rauc `contrib/uboot.sh` (U-Boot,
 * read through `fw_printenv`/`fw_setenv` from libubootenv-tool) and `contrib/grub.conf` (GRUB,
 * read through `grub-editenv` from grub-common). Each boot writes the kernel command line the
 * boot loader would pass (`rauc.slot=A`), which the agent reads as the booted slot.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A boot loader on a simulated board. */
export interface SimulatedLoader {
  /** Files of its environment (recorded as written by a program outside the agent). */
  envFiles: string[];
  /** Where the kernel command line of the current boot is written. */
  cmdline: string;
  /** One power-on: chooses a slot ('a' or 'b'), or null when it found none (and reset its counters). */
  boot(): 'a' | 'b' | null;
  /** The environment as `name=value` pairs. */
  env(): Record<string, string>;
}

function parseList(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

function bootTo(cmdline: string, slot: 'A' | 'B' | null, root: string): 'a' | 'b' | null {
  writeFileSync(cmdline, slot === null ? '' : 'console=ttyS0,115200 root=' + root + ' rauc.slot=' + slot + '\n');
  return slot === null ? null : slot === 'A' ? 'a' : 'b';
}

/**
 * A redundant, file-backed U-Boot environment (two copies, as `fw_env.config` describes two
 * devices) and the boot script of contrib/uboot.sh. Returns the loader and the fw_env.config path.
 */
export function ubootLoader(dir: string): SimulatedLoader & { config: string } {
  const envFiles = [join(dir, 'uboot.env.0'), join(dir, 'uboot.env.1')];
  const config = join(dir, 'fw_env.config');
  writeFileSync(config, envFiles.map((f) => f + ' 0x0 0x4000\n').join(''));
  for (const f of envFiles) writeFileSync(f, Buffer.alloc(0x4000, 0xff)); // erased flash
  const defaults = join(dir, 'uboot.defaults');
  writeFileSync(defaults, 'bootdelay=0\n');
  const cmdline = join(dir, 'cmdline');
  const env = () => parseList(execFileSync('fw_printenv', ['-c', config], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  const saveenv = (vars: Record<string, string>) =>
    execFileSync('fw_setenv', ['-c', config, '-f', defaults, '-s', '-'], { input: Object.keys(vars).map((k) => k + '=' + vars[k]).join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
  // U-Boot's setexpr and `test 0x${…}` read the counters as hexadecimal, and setexpr writes hex back.
  // A board's U-Boot writes its default environment on first boot.
  saveenv({ bootdelay: '0' });
  const hex = (v: string) => parseInt(v, 16);
  return {
    envFiles,
    cmdline,
    config,
    env,
    boot() {
      const e = env();
      const set: Record<string, string> = {};
      if (!e.BOOT_ORDER) set.BOOT_ORDER = e.BOOT_ORDER = 'A B';
      if (!e.BOOT_A_LEFT) set.BOOT_A_LEFT = e.BOOT_A_LEFT = '3';
      if (!e.BOOT_B_LEFT) set.BOOT_B_LEFT = e.BOOT_B_LEFT = '3';
      let chosen: 'A' | 'B' | null = null;
      for (const slot of e.BOOT_ORDER!.split(' ')) {
        if (chosen !== null || (slot !== 'A' && slot !== 'B')) continue;
        const key = 'BOOT_' + slot + '_LEFT';
        if (hex(e[key]!) > 0) {
          set[key] = (hex(e[key]!) - 1).toString(16);
          chosen = slot;
        }
      }
      if (chosen === null) {
        // "No valid slot found, resetting tries to 3", saveenv, reset.
        saveenv({ BOOT_A_LEFT: '3', BOOT_B_LEFT: '3' });
        return bootTo(cmdline, null, '');
      }
      saveenv(set);
      return bootTo(cmdline, chosen, chosen === 'A' ? '/dev/mmcblk0p1' : '/dev/mmcblk0p2');
    },
  };
}

/** A grubenv file and the slot selection of contrib/grub.conf; `rescue` is the third entry. */
export function grubLoader(dir: string): SimulatedLoader & { grubenv: string } {
  const grubenv = join(dir, 'grubenv');
  execFileSync('grub-editenv', [grubenv, 'create']);
  const cmdline = join(dir, 'cmdline');
  const env = () => parseList(execFileSync('grub-editenv', [grubenv, 'list'], { encoding: 'utf8' }));
  return {
    envFiles: [grubenv],
    cmdline,
    grubenv,
    env,
    boot() {
      // set ORDER="A B", A_OK=0, B_OK=0, A_TRY=0, B_TRY=0; load_env
      const e = Object.assign({ ORDER: 'A B', A_OK: '0', B_OK: '0', A_TRY: '0', B_TRY: '0' }, env());
      const num = (v: string) => (v.trim() !== '' && !isNaN(Number(v)) ? Number(v) : NaN);
      let chosen: 'A' | 'B' | null = null;
      for (const slot of e.ORDER.split(' ')) {
        if (slot !== 'A' && slot !== 'B') continue;
        const ok = e[slot + '_OK' as 'A_OK'];
        const tried = e[slot + '_TRY' as 'A_TRY'];
        e[slot + '_TRY' as 'A_TRY'] = '1';
        if (num(ok) === 1 && num(tried) === 0) {
          chosen = slot;
          break;
        }
      }
      if (chosen === null) {
        // Nothing bootable: the rescue entry; slots that are good but were tried get another try.
        for (const slot of ['A', 'B'] as const) if (num(e[slot + '_OK' as 'A_OK']) === 1 && num(e[slot + '_TRY' as 'A_TRY']) === 1) e[slot + '_TRY' as 'A_TRY'] = '0';
      }
      // save_env A_TRY A_OK B_TRY B_OK ORDER
      execFileSync('grub-editenv', [grubenv, 'set', 'A_TRY=' + e.A_TRY, 'A_OK=' + e.A_OK, 'B_TRY=' + e.B_TRY, 'B_OK=' + e.B_OK, 'ORDER=' + e.ORDER]);
      return bootTo(cmdline, chosen, chosen === 'A' ? '/dev/sda2' : '/dev/sda3');
    },
  };
}
