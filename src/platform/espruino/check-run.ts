/**
 * The entry of the Espruino build's second file, `ota-client-run`: a check's code and the native
 * protocol's adapter, loaded from Storage while used (run-file.ts).
 */
export { previewCheck, runCheck } from '../../updater/check-run.js';
export { nativeProtocol } from '../../check/native.js';
