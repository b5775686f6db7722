/**
 * The Espruino build's second file, `ota-client-run` (a check's code and the native protocol's
 * adapter), is loaded from Storage while something uses it and dropped from the module cache
 * when the last user is done: a board running its application holds only the boot-time part
 * (docs/espruino.md). Functions still running keep what they use.
 */
import type { previewCheck, runCheck } from '../../updater/check-run.js';
import type { nativeProtocol } from '../../check/native.js';
import { otaError } from '../../errors.js';

const FILE = 'ota-client-run';

/** What the file exports (src/platform/espruino/check-run.ts). */
export interface RunFile {
  runCheck: typeof runCheck;
  previewCheck: typeof previewCheck;
  nativeProtocol: typeof nativeProtocol;
}

let users = 0;

/** The file, loaded if need be, for a synchronous use during a check (it stays loaded until the check ends). */
export function runFile(): RunFile {
  try {
    return require(FILE) as RunFile;
  } catch (e) {
    throw otaError('CONFIG_INVALID', 'check', 'the Storage file ' + FILE + ' cannot be loaded (' + (e instanceof Error ? e.message : String(e)) + '): upload all three files of the Espruino build; nothing was changed');
  }
}

/** Runs `work` with the file loaded; it is dropped once no work uses it. */
export function usingRunFile<T>(work: (file: RunFile) => Promise<T>): Promise<T> {
  users++;
  const done = () => {
    if (--users > 0) return;
    try {
      Modules.removeCached(FILE);
    } catch (e) {
      // It never loaded: nothing to drop.
    }
  };
  let p: Promise<T>;
  try {
    p = work(runFile());
  } catch (e) {
    p = Promise.reject(e);
  }
  p.then(done, done);
  return p;
}
