/** Reading default.cfg from disk. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseConfig, type ConfigResult } from '../../config/config.js';
import { otaError } from '../../errors.js';
import { systemErrorText } from './system-error.js';

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
    throw otaError('CONFIG_INVALID', 'config', 'cannot read the configuration: ' + (systemErrorText(e) ?? path) + ' (`ota config init` writes one)');
  }
  const result = parseConfig(text, path);
  // Paths in the file are relative to the file.
  const here = (p: string) => (p === '' || isAbsolute(p) ? p : resolve(dirname(path), p));
  const c = result.config;
  c.public_keys = c.public_keys.map(here);
  c.ca_file = here(c.ca_file);
  c.client_cert = here(c.client_cert);
  c.client_key = here(c.client_key);
  return Object.assign(result, { path, stateDir: here(c.state_dir) });
}
