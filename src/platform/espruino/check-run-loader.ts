/**
 * Stands in for `updater/check-run.ts` in the Espruino build: a check's code (the download, the
 * decision about an offer, the install) comes from the Storage file `ota-client-run` while the
 * check runs (run-file.ts).
 */
import type { CheckPreview, CheckResult } from '../../updater/results.js';
import type { UpdaterCore } from '../../updater/updater-core.js';
import type { StopSignal } from '../interfaces.js';
import { usingRunFile } from './run-file.js';

/** `updater/check-run.ts`'s runCheck, from Storage. */
export function runCheck(core: UpdaterCore, force: boolean, signal: StopSignal): Promise<CheckResult> {
  return usingRunFile((f) => f.runCheck(core, force, signal));
}

/** `updater/check-run.ts`'s previewCheck, from Storage. */
export function previewCheck(core: UpdaterCore): Promise<CheckPreview> {
  return usingRunFile((f) => f.previewCheck(core));
}
