/**
 * State documents as files in a directory, each replaced atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory. A power cut leaves the old or the
 * new document, never a mix.
 */
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateStore } from '../interfaces.js';

/** Creates a state store in `dir` (created when first written). */
export function fileState(dir: string): StateStore {
  const syncDir = async () => {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  };
  return {
    async read(name) {
      try {
        return await readFile(join(dir, name), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    async write(name, text) {
      mkdirSync(dir, { recursive: true });
      // One temporary file per process: an application confirming itself while `ota run` confirms
      // it too would otherwise truncate and rename the other's half-written file.
      const tmp = join(dir, name + '.' + process.pid + '.tmp');
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(dir, name));
      await syncDir();
    },
    async remove(name) {
      await rm(join(dir, name), { force: true });
      await syncDir().catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e; // no directory: nothing was there to remove
      });
    },
  };
}
