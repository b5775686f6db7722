/**
 * Stands in for `updater/check-run.ts` in the Espruino build. A check's code (the download, the
 * manifest's decision, the install) is the Storage file `ota-client-run`, loaded when a check
 * starts and dropped from the module cache when it ends, so a board running its application holds
 * only the boot-time part: the boot steps, confirm, revert, and the scheduler (docs/espruino.md).
 */
import type { CheckPreview, CheckResult } from '../../updater/results.js';
import type { UpdaterCore } from '../../updater/updater-core.js';
import type { StopSignal } from '../interfaces.js';

const FILE = 'ota-client-run';

/** The check's module, loaded from Storage. */
function load(): { runCheck: typeof runCheck; previewCheck: typeof previewCheck } {
  return require(FILE) as { runCheck: typeof runCheck; previewCheck: typeof previewCheck };
}

/** Frees the check's code once `p` settles (functions still running keep what they use). */
function unloadAfter<T>(p: Promise<T>): Promise<T> {
  const drop = () => Modules.removeCached(FILE);
  p.then(drop, drop);
  return p;
}

/** `updater/check-run.ts`'s runCheck, from Storage. */
export function runCheck(core: UpdaterCore, force: boolean, signal: StopSignal): Promise<CheckResult> {
  return unloadAfter(load().runCheck(core, force, signal));
}

/** `updater/check-run.ts`'s previewCheck, from Storage. */
export function previewCheck(core: UpdaterCore): Promise<CheckPreview> {
  return unloadAfter(load().previewCheck(core));
}
