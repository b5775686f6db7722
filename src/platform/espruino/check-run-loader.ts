/**
 * Stands in for `updater/check-run.ts` in the Espruino build: a check's code (the download, the
 * decision about an offer, the install) comes from the Storage file `ota-client-run` while the
 * check runs (run-file.ts).
 */
import type { CheckPreview, CheckResult } from '../../updater/results.js';
import type { UpdaterCore } from '../../updater/updater-core.js';
import type { StopSignal } from '../interfaces.js';
import { toOtaError } from '../../errors.js';
import { usingRunFile } from './run-file.js';

/** `updater/check-run.ts`'s runCheck, from Storage; never rejects, as the check itself (a file that cannot be loaded is a failed check). */
export function runCheck(core: UpdaterCore, force: boolean, stopper: { signal: StopSignal; stop: () => void }): Promise<CheckResult> {
  return usingRunFile((f) => f.runCheck(core, force, stopper)).then(undefined, (e): CheckResult => {
    const error = toOtaError(e, 'check');
    core.platform.logger.log('ERROR', 'Cannot check for updates: ' + error.message);
    return { status: 'failed', error, message: error.message };
  });
}

/** `updater/check-run.ts`'s previewCheck, from Storage. */
export function previewCheck(core: UpdaterCore): Promise<CheckPreview> {
  return usingRunFile((f) => f.previewCheck(core));
}
