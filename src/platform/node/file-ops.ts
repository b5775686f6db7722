/**
 * The file operations a Node device does on its own storage (slots, state documents, the
 * `current` link, the agent lock), behind one small seam. Production uses {@link nodeFileOps}:
 * plain synchronous node:fs calls, and fsync on the thread pool. The power-cut tests pass a
 * recording implementation, so that they can rebuild the disk as a power cut would leave it:
 * only what an fsync of the file (data) or of its directory (creations, renames, removals)
 * made durable.
 */
import { closeSync, existsSync, fsync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readlinkSync, renameSync, rmSync, statfsSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** How a file is opened: read, read/write an existing file, create or truncate, create exclusively. */
export type OpenFlags = 'r' | 'r+' | 'w+' | 'wx';

/** File operations on the device's storage. Errors are node:fs errors (with `code`). */
export interface FileOps {
  open(path: string, flags: OpenFlags): number;
  /** Reads up to `buf.length` bytes at `position`; the number read. */
  read(fd: number, buf: Uint8Array, position: number): number;
  /** Writes all of `data` at `position`. */
  write(fd: number, data: Uint8Array, position: number): void;
  truncate(fd: number, size: number): void;
  /** Makes the file's data durable; runs on the thread pool so the event loop keeps going. */
  fsync(fd: number): Promise<void>;
  close(fd: number): void;
  /** Makes the entries of directory `dir` (files created, renamed or removed there) durable. */
  fsyncDir(dir: string): Promise<void>;
  rename(from: string, to: string): void;
  /** Creates `dir` and its missing parents. */
  mkdir(dir: string): void;
  /** Removes a file; nothing happens when there is none. */
  unlink(path: string): void;
  /** Removes a directory and everything in it (a bundle's); nothing happens when there is none. */
  removeTree(dir: string): void;
  /** Whether anything (file, directory, link) is at `path`. */
  exists(path: string): boolean;
  symlink(target: string, path: string): void;
  /** The target of a symbolic link, or null when there is none. */
  readlink(path: string): string | null;
  /** A whole file as UTF-8, or null when there is none. */
  readFile(path: string): string | null;
  /** Bytes an unprivileged process may still write on the file system holding `dir` (or its nearest existing parent). */
  freeBytes(dir: string): number;
  /** Size of a file in bytes; 0 when there is none. */
  size(path: string): number;
}

function absent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
}

/** The real file system. */
export const nodeFileOps: FileOps = {
  open: (path, flags) => openSync(path, flags),
  read: (fd, buf, position) => readSync(fd, buf, 0, buf.length, position),
  write(fd, data, position) {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
  },
  truncate: (fd, size) => ftruncateSync(fd, size),
  fsync: fsyncFd,
  close: (fd) => closeSync(fd),
  fsyncDir: (dir) => fsyncPath(nodeFileOps, dir),
  rename: (from, to) => renameSync(from, to),
  mkdir(dir) {
    mkdirSync(dir, { recursive: true });
  },
  unlink: (path) => rmSync(path, { force: true }),
  removeTree: (dir) => rmSync(dir, { recursive: true, force: true }),
  exists: (path) => existsSync(path),
  symlink: (target, path) => symlinkSync(target, path),
  readlink(path) {
    try {
      return readlinkSync(path);
    } catch (e) {
      if (absent(e)) return null;
      throw e;
    }
  },
  readFile(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      if (absent(e)) return null;
      throw e;
    }
  },
  freeBytes(dir) {
    // A slot directory is created on first write: measure the nearest directory that exists.
    for (;;) {
      try {
        const s = statfsSync(dir);
        return s.bavail * s.bsize;
      } catch (e) {
        if (!absent(e) || dirname(dir) === dir) throw e;
        dir = dirname(dir);
      }
    }
  },
  size(path) {
    try {
      return statSync(path).size;
    } catch (e) {
      if (absent(e)) return 0;
      throw e;
    }
  },
};

/**
 * A whole text file, or null when it cannot be read at all: for what the system may not have
 * (/proc files, a kernel command line), where any failure means "not known here"; read through
 * `ops` where the caller has one.
 */
export function readTextOrNull(path: string, ops: Pick<FileOps, 'readFile'> = nodeFileOps): string | null {
  try {
    return ops.readFile(path);
  } catch (e) {
    return null;
  }
}

/** Opens `path` (a file or a directory) read-only, fsyncs it and closes it. */
export async function fsyncPath(ops: Pick<FileOps, 'open' | 'fsync' | 'close'>, path: string): Promise<void> {
  const fd = ops.open(path, 'r');
  try {
    await ops.fsync(fd);
  } finally {
    ops.close(fd);
  }
}

let serial = 0;

/**
 * A temporary name beside `path`, unique to this process and call: two writers of one path (two
 * uploads at once, two processes) never share, truncate or remove each other's temporary file.
 */
export function tempName(path: string): string {
  return path + '.' + process.pid + '-' + serial++ + '.tmp';
}

/**
 * Replaces the file `dir/name` with `data` so that a power cut leaves the old or the new content:
 * write a temporary file, fsync it, rename it over the old one, fsync the directory. The
 * temporary file is this call's own ({@link tempName}), so that two processes replacing the same
 * document (an application confirming itself while `ota run` does too) each rename a whole file.
 */
export async function replaceFile(ops: FileOps, dir: string, name: string, data: Uint8Array): Promise<void> {
  const path = dir + '/' + name;
  const tmp = tempName(path);
  const fd = ops.open(tmp, 'w+');
  try {
    ops.write(fd, data, 0);
    await ops.fsync(fd);
  } finally {
    ops.close(fd);
  }
  ops.rename(tmp, path);
  await ops.fsyncDir(dir);
}
