/** Reading default.cfg from disk. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseConfig, type ConfigResult } from '../config.js';
import { otaError } from '../errors.js';

/** A configuration read from a file, with its state directory resolved against the file's folder. */
export interface ConfigFile extends ConfigResult {
  path: string;
  stateDir: string;
}

/** Reads and validates a default.cfg. Throws `CONFIG_INVALID` naming the file (and key). */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw otaError('CONFIG_INVALID', 'config', path + ': cannot read the configuration (' + ((e as NodeJS.ErrnoException).code ?? String(e)) + ')');
  }
  const result = parseConfig(text, path);
  const dir = result.config.state_dir;
  return Object.assign(result, { path, stateDir: isAbsolute(dir) ? dir : resolve(dirname(path), dir) });
}
