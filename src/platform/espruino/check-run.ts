/**
 * The entry of the Espruino build's second file, `ota-client-run`: a check's code, which
 * `check-run-loader.ts` loads from Storage while a check runs.
 */
export { previewCheck, runCheck } from '../../updater/check-run.js';
