/**
 * The boot selector of Node applications in file slots: `<dir>/current` is a symbolic link to
 * the running slot, so that a supervisor can run the application as `node <dir>/current`.
 */
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { SlotStorage } from '../install/slots.js';
import type { BootSelector } from './boot-selector.js';

/**
 * Keeps `<dir>/current` a symbolic link to the running slot, so that a supervisor can run the
 * application as `node <dir>/current`. Replaced atomically (new link, then rename).
 */
export function currentLink(dir: string, slots: SlotStorage): BootSelector {
  return {
    async apply(state) {
      const link = join(dir, 'current');
      // Per process, as two processes (an application and `ota run`) may apply a state at once.
      const tmp = link + '.' + process.pid + '.tmp';
      rmSync(tmp, { force: true });
      symlinkSync(relative(dir, slots.locate(state.booted)), tmp);
      renameSync(tmp, link);
    },
  };
}
