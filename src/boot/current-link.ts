/**
 * The boot selector of Node applications in file slots: `<dir>/current` is a symbolic link to
 * the running slot, so that a supervisor can run the application as `node <dir>/current`.
 */
import { join, relative } from 'node:path';
import type { SlotStorage } from '../install/slots.js';
import { nodeFileOps, tempName, type FileOps } from '../platform/node/file-ops.js';
import type { BootSelector } from './boot-selector.js';

/**
 * Keeps `<dir>/current` a symbolic link to the running slot. Replaced atomically (new link, then
 * rename) and made durable (the directory synced), so a power cut leaves the old link or the new.
 */
export function currentLink(dir: string, slots: SlotStorage, ops: FileOps = nodeFileOps): BootSelector {
  return {
    async apply(state) {
      const link = join(dir, 'current');
      // Per call, as two processes (an application and `ota run`) may apply a state at once.
      const tmp = tempName(link);
      ops.unlink(tmp);
      ops.symlink(relative(dir, slots.locate(state.booted)), tmp);
      ops.rename(tmp, link);
      await ops.fsyncDir(dir);
    },
  };
}
