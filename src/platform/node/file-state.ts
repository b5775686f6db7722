/**
 * State documents as files in a directory, each replaced atomically: write a temporary file,
 * fsync it, rename it over the old one, fsync the directory. A power cut leaves the old or the
 * new document, never a mix.
 */
import { join } from 'node:path';
import type { StateStore } from '../interfaces.js';
import { nodeFileOps, replaceFile, type FileOps } from './file-ops.js';

/** Creates a state store in `dir` (created, and its creation made durable, when first written). */
export function fileState(dir: string, ops: FileOps = nodeFileOps): StateStore {
  let ready = false;
  return {
    async read(name) {
      return ops.readFile(join(dir, name));
    },
    async write(name, text) {
      if (!ready) {
        ops.mkdir(dir);
        await ops.fsyncDir(join(dir, '..'));
        ready = true;
      }
      await replaceFile(ops, dir, name, Buffer.from(text));
    },
    async remove(name) {
      ops.unlink(join(dir, name));
      await ops.fsyncDir(dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e; // no directory: nothing was there to remove
      });
    },
  };
}
