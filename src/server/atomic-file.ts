/**
 * Files that are never seen half-written: written beside their place and renamed over it, so a
 * crash or a reader in the middle sees the old content or the new, nothing in between.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempName } from '../platform/node/file-ops.js';

/** Writes `data` to `path` atomically (a unique temporary name, then rename). */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** A JSON file written before, or `fallback` when there is none; a damaged one is an error naming it. */
export async function readJsonFile<T>(path: string, fallback: T): Promise<T> {
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(path + ' is not valid JSON (' + (e as Error).message + '); repair or remove it');
  }
}

/** One file rewritten often: writes run one at a time and coalesce, so an older state never lands after a newer one. */
export interface FileWriter {
  /** Writes `text` (or a later text given meanwhile); resolves once it is on disk. */
  write(text: string): Promise<void>;
  /** Resolves once no write is under way (failures were reported to `write`'s callers). */
  flushed(): Promise<void>;
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
    flushed() {
      return draining === null ? Promise.resolve() : draining.catch(() => undefined);
    },
  };
}
