// The path of a program on PATH (or in /usr/sbin), or undefined.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export function which(name) {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin']);
  for (const d of dirs) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      // not here
    }
  }
  return undefined;
}
