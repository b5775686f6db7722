/**
 * A power-cut harness in the spirit of CrashMonkey and ALICE: the device's file operations are
 * recorded once (through the FileOps seam of src/platform/node/file-ops.ts), then for every cut
 * point the disk is rebuilt as a power cut there would leave it. The model is the pessimistic
 * POSIX one: file data is durable only once the file was fsynced, and a directory entry
 * (creation, rename, removal, symlink, mkdir) only once its directory was fsynced. Three crash
 * states are made per cut point: only what was durable; the same plus a torn write (the first
 * half of an interrupted write reached the disk); and everything the page cache held (a kill
 * without a power cut).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, lstatSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nodeFileOps, type FileOps } from '../../src/platform/node/file-ops.js';

/** One recorded operation. */
export type Op =
  | { op: 'open'; path: string; fd: number; flags: string }
  | { op: 'write'; fd: number; data: Buffer; pos: number }
  | { op: 'truncate'; fd: number; size: number }
  | { op: 'fsync'; fd: number }
  | { op: 'close'; fd: number }
  | { op: 'fsyncDir'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'mkdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'symlink'; target: string; path: string }
  /** A program outside the agent (fw_setenv, grub-editenv) replaced a file and made it durable. */
  | { op: 'external'; path: string; data: Buffer };

/** Operations that change what a power cut leaves; a cut is placed before each of them. */
export function isCutPoint(o: Op): boolean {
  return o.op !== 'close' && !(o.op === 'open' && (o.flags === 'r' || o.flags === 'r+'));
}

/**
 * The real file operations without fsync: a simulated board is never really cut, so durability is
 * the model's business, and a real fsync (milliseconds each) would only slow the restarts down.
 */
export const unsyncedOps: FileOps = Object.assign({}, nodeFileOps, { fsync: async () => undefined, fsyncDir: async () => undefined });

/** A FileOps that performs every operation on the real files (fsync aside) and records it in `log`. */
export function recordingOps(log: Op[]): FileOps {
  const b = unsyncedOps;
  return {
    ...b,
    open(path, flags) {
      const fd = b.open(path, flags);
      log.push({ op: 'open', path, fd, flags });
      return fd;
    },
    write(fd, data, pos) {
      log.push({ op: 'write', fd, data: Buffer.from(data), pos });
      b.write(fd, data, pos);
    },
    truncate(fd, size) {
      log.push({ op: 'truncate', fd, size });
      b.truncate(fd, size);
    },
    fsync(fd) {
      log.push({ op: 'fsync', fd });
      return b.fsync(fd);
    },
    close(fd) {
      log.push({ op: 'close', fd });
      b.close(fd);
    },
    fsyncDir(path) {
      log.push({ op: 'fsyncDir', path });
      return b.fsyncDir(path);
    },
    rename(from, to) {
      log.push({ op: 'rename', from, to });
      b.rename(from, to);
    },
    mkdir(path) {
      log.push({ op: 'mkdir', path });
      b.mkdir(path);
    },
    unlink(path) {
      log.push({ op: 'unlink', path });
      b.unlink(path);
    },
    symlink(target, path) {
      log.push({ op: 'symlink', target, path });
      b.symlink(target, path);
    },
  };
}

type Inode = { kind: 'file'; cached: Buffer; durable: Buffer } | { kind: 'dir' } | { kind: 'link'; target: string };

/** A snapshot of a directory tree: path (relative to the root) to file content, link or directory. */
export type Tree = Map<string, Buffer | { link: string } | 'dir'>;

/** Reads the tree under `root` (as it is: the durable starting point of a recording). */
export function readTree(root: string): Tree {
  const tree: Tree = new Map();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel === '' ? name : rel + '/' + name;
      const st = lstatSync(join(root, r));
      if (st.isSymbolicLink()) tree.set(r, { link: readlinkSync(join(root, r)) });
      else if (st.isDirectory()) {
        tree.set(r, 'dir');
        walk(r);
      } else tree.set(r, readFileSync(join(root, r)));
    }
  };
  walk('');
  return tree;
}

/** Replaces everything under `root` by `tree`. */
export function writeTree(root: string, tree: Tree): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const [rel, v] of [...tree].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    const p = join(root, rel);
    if (v === 'dir') mkdirSync(p, { recursive: true });
    else if (Buffer.isBuffer(v)) writeFileSync(p, v);
    else symlinkSync(v.link, p);
  }
}

/** How a cut leaves the disk. */
export type CrashKind = 'durable' | 'torn' | 'cache';

/**
 * The tree a power cut before operation `cut` of `log` leaves, starting from `initial` under
 * `root`. `torn`: the write at `cut` (if it is one) reached the disk by its first half.
 * Returns null for a torn cut that is not at a write.
 */
export function crashTree(root: string, initial: Tree, log: Op[], cut: number, kind: CrashKind): Tree | null {
  if (kind === 'torn' && log[cut]?.op !== 'write') return null;
  const rel = (p: string) => (p === root ? '' : p.slice(root.length + 1));
  const cached = new Map<string, Inode>();
  const durable = new Map<string, Inode>();
  for (const [r, v] of initial) {
    const node: Inode = v === 'dir' ? { kind: 'dir' } : Buffer.isBuffer(v) ? { kind: 'file', cached: Buffer.from(v), durable: Buffer.from(v) } : { kind: 'link', target: v.link };
    cached.set(r, node);
    durable.set(r, node);
  }
  const fds = new Map<number, Inode & { kind: 'file' }>();
  // Writes land in place; a buffer grows (by copying) only when a write passes its end.
  const write = (buf: Buffer, data: Buffer, pos: number) => {
    const out = pos + data.length > buf.length ? Buffer.concat([buf, Buffer.alloc(pos + data.length - buf.length)]) : buf;
    data.copy(out, pos);
    return out;
  };
  for (let i = 0; i < cut; i++) {
    const o = log[i]!;
    switch (o.op) {
      case 'open': {
        let node = cached.get(rel(o.path));
        if (node === undefined || node.kind !== 'file') {
          if (o.flags === 'r' || o.flags === 'r+') throw new Error('replay: ' + o.path + ' opened but absent');
          node = { kind: 'file', cached: Buffer.alloc(0), durable: Buffer.alloc(0) };
          cached.set(rel(o.path), node);
        } else if (o.flags === 'w+') node.cached = Buffer.alloc(0);
        fds.set(o.fd, node);
        break;
      }
      case 'write': {
        const n = fds.get(o.fd)!;
        n.cached = write(n.cached, o.data, o.pos);
        break;
      }
      case 'truncate': {
        const n = fds.get(o.fd)!;
        const out = Buffer.alloc(o.size);
        n.cached.copy(out, 0, 0, Math.min(o.size, n.cached.length));
        n.cached = out;
        break;
      }
      case 'fsync': {
        const n = fds.get(o.fd)!;
        n.durable = Buffer.from(n.cached);
        break;
      }
      case 'close':
        fds.delete(o.fd);
        break;
      case 'fsyncDir': {
        const d = rel(o.path);
        const inDir = (r: string) => (d === '' ? !r.includes('/') : r.startsWith(d + '/') && !r.slice(d.length + 1).includes('/'));
        for (const r of [...durable.keys()]) if (inDir(r) && !cached.has(r)) durable.delete(r);
        for (const [r, node] of cached) if (inDir(r)) durable.set(r, node);
        break;
      }
      case 'rename': {
        const node = cached.get(rel(o.from))!;
        cached.delete(rel(o.from));
        cached.set(rel(o.to), node);
        break;
      }
      case 'mkdir': {
        const parts = rel(o.path).split('/');
        for (let k = 1; k <= parts.length; k++) {
          const r = parts.slice(0, k).join('/');
          if (!cached.has(r)) cached.set(r, { kind: 'dir' });
        }
        break;
      }
      case 'unlink':
        cached.delete(rel(o.path));
        break;
      case 'symlink':
        cached.set(rel(o.path), { kind: 'link', target: o.target });
        break;
      case 'external': {
        const node: Inode = { kind: 'file', cached: Buffer.from(o.data), durable: Buffer.from(o.data) };
        cached.set(rel(o.path), node);
        durable.set(rel(o.path), node);
        break;
      }
    }
  }
  if (kind === 'torn') {
    const o = log[cut] as Op & { op: 'write' };
    const n = fds.get(o.fd)!;
    n.durable = write(Buffer.from(n.durable), o.data.subarray(0, Math.ceil(o.data.length / 2)), o.pos);
  }
  const names = kind === 'cache' ? cached : durable;
  const tree: Tree = new Map();
  // An entry survives only where every directory above it survived.
  const reachable = (r: string): boolean => {
    const up = dirname(r);
    return up === '.' || (names.get(up)?.kind === 'dir' && reachable(up));
  };
  for (const [r, node] of names) {
    if (!reachable(r)) continue;
    if (node.kind === 'dir') tree.set(r, 'dir');
    else if (node.kind === 'link') tree.set(r, { link: node.target });
    else tree.set(r, Buffer.from(kind === 'cache' ? node.cached : node.durable));
  }
  return tree;
}

/** A digest of a tree: cut points that leave the same disk need one restart between them. */
export function treeDigest(tree: Tree): string {
  const h = createHash('sha256');
  for (const [r, v] of [...tree].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    h.update(r + '\0');
    h.update(v === 'dir' ? 'dir' : Buffer.isBuffer(v) ? v : 'link:' + v.link);
    h.update('\0');
  }
  return h.digest('hex');
}
