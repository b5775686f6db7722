/** The system log on disk: appended lines, rotated by size (`ota.log`, `ota.log.1`, ...). */
import { appendFileSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Appends lines to `path`, keeping it under `maxBytes` by rotation; `keep` older files are kept. */
export function rotatingFile(path: string, maxBytes: number, keep: number): (line: string) => void {
  let size = -1;
  return (line) => {
    const bytes = Buffer.byteLength(line) + 1;
    if (size < 0) {
      mkdirSync(dirname(path), { recursive: true });
      try {
        size = statSync(path).size;
      } catch {
        size = 0;
      }
    }
    if (size > 0 && size + bytes > maxBytes) {
      rmSync(path + '.' + keep, { force: true });
      for (let i = keep - 1; i >= 1; i--) {
        try {
          renameSync(path + '.' + i, path + '.' + (i + 1));
        } catch {
          // that generation does not exist yet
        }
      }
      renameSync(path, path + '.1');
      if (keep === 0) rmSync(path + '.1', { force: true });
      size = 0;
    }
    appendFileSync(path, line + '\n');
    size += bytes;
  };
}
