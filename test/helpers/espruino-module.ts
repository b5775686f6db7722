/**
 * The Espruino build's files: `ota-client` (the module), `ota-client-run` (a check's code) and
 * `ota-client-core` (what both use), each a Storage file of its own on a board (docs/espruino.md).
 */
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const DIST = 'dist/espruino';

/** The Storage names of the built files. */
export function moduleFiles(): string[] {
  return readdirSync(DIST).filter((f) => f.endsWith('.js') && !f.endsWith('.debug.js')).map((f) => f.slice(0, -3));
}

/** Copies the files into `dir`; returns the interpreter statements that write them to Storage there. */
export function installModule(dir: string): string {
  const names = moduleFiles();
  for (const n of names) copyFileSync(join(DIST, n + '.js'), join(dir, n + '.js'));
  return names.map((n) => 'require("Storage").write("' + n + '", require("fs").readFileSync("' + n + '.js"));').join('\n');
}
