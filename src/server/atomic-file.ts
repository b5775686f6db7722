/**
 * Files that are never seen half-written: written beside their place and renamed over it, so a
 * crash or a reader in the middle sees the old content or the new, nothing in between.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

let serial = 0;

/** Writes `data` to `path` atomically (a unique temporary name, then rename). */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // Unique per write: two writers of one path never share (and truncate) a temporary file.
  const tmp = path + '.' + process.pid + '-' + serial++ + '.tmp';
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** One file rewritten often: writes run one at a time and coalesce, so an older state never lands after a newer one. */
export interface FileWriter {
  /** Writes `text` (or a later text given meanwhile); resolves once it is on disk. */
  write(text: string): Promise<void>;
}

/** A {@link FileWriter} for `path`. */
export function fileWriter(path: string): FileWriter {
  let next: string | null = null;
  let draining: Promise<void> | null = null;
  const drain = async () => {
    try {
      while (next !== null) {
        const text = next;
        next = null;
        await writeAtomic(path, text);
      }
    } finally {
      draining = null;
    }
  };
  return {
    write(text) {
      next = text;
      if (draining === null) draining = drain();
      return draining;
    },
  };
}
