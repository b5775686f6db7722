/**
 * Bundles on Node: a release that is a tar archive of an application directory. The verified
 * archive stays in the slot file (it is the base of the next delta); it is unpacked into a fresh
 * directory beside it with every entry checked, fsynced, and only then renamed into place, so a
 * power cut leaves either the old directory or the complete new one.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, posix } from 'node:path';
import type { ReadEntry } from 'tar';
import { otaError } from '../../errors.js';
import { fsyncPath, nodeFileOps, type FileOps } from './file-ops.js';
import { tarPackage } from './lazy-modules.js';

/** Entry types a bundle may hold; devices, FIFOs and the like are refused. */
const ALLOWED = ['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link'];

/** Why `entry` may not be unpacked into a slot, or null when it may. */
function entryProblem(path: string, type: string, linkpath: string | undefined): string | null {
  if (ALLOWED.indexOf(type) < 0) return 'is a ' + type + ' (only files, directories and links inside the bundle are allowed)';
  if (path.indexOf('\0') >= 0 || isAbsolute(path) || path.charAt(0) === '/') return 'has an absolute path';
  if (escapes(path)) return 'has a path that leaves the bundle (..)';
  if (type === 'SymbolicLink' || type === 'Link') {
    const target = linkpath ?? '';
    if (target === '' || target.charAt(0) === '/') return 'links to an absolute path ' + JSON.stringify(target);
    // Symbolic links resolve from the entry's directory, hard links from the archive's root.
    const resolved = type === 'SymbolicLink' ? posix.join(posix.dirname(path), target) : target;
    if (escapes(resolved)) return 'links outside the bundle (' + JSON.stringify(target) + ')';
  }
  return null;
}

function escapes(path: string): boolean {
  const n = posix.normalize(path);
  return n === '..' || n.indexOf('../') === 0;
}

/** An entry of a tree: its path relative to the tree's root, and what `lstat` says of it. */
interface TreeEntry {
  path: string;
  st: Stats;
}

/** Every entry under `dir`, sorted, each directory before what it holds (links are not followed). */
function listTree(dir: string, prefix = '', out: TreeEntry[] = []): TreeEntry[] {
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const path = prefix === '' ? name : prefix + '/' + name;
    const st = lstatSync(join(dir, path));
    out.push({ path, st });
    if (st.isDirectory()) listTree(dir, path, out);
  }
  return out;
}

/** Fsyncs in flight at once: the file system commits concurrent fsyncs together (100 files on ext4: 4-6× faster than one at a time). */
const SYNCS_IN_FLIGHT = 8;

/** Makes every file and directory under `dir` durable, a few fsyncs at a time on the thread pool. */
async function syncTree(ops: FileOps, dir: string): Promise<void> {
  const paths = [{ path: '', st: lstatSync(dir) }].concat(listTree(dir).filter((e) => e.st.isFile() || e.st.isDirectory()));
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const e = paths[next++]!;
      const path = join(dir, e.path);
      await (e.st.isDirectory() ? ops.fsyncDir(path) : fsyncPath(ops, path));
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(SYNCS_IN_FLIGHT, paths.length); i++) workers.push(worker());
  await Promise.all(workers);
}

/**
 * Unpacks the tar archive `file` into `dir`, replacing what is there. Throws `IMAGE_INVALID`
 * naming the first entry that breaks a rule; `dir` is then untouched. The fsyncs and renames go
 * through `ops` (tar writes the files itself).
 */
export async function unpackBundle(file: string, dir: string, ops: FileOps = nodeFileOps): Promise<void> {
  const fresh = dir + '.new';
  ops.removeTree(fresh);
  ops.mkdir(fresh);
  let refused: string | null = null;
  // tar is loaded by the bundle steps that use it: every other start (a device's up-to-date check
  // from cron) would pay ~30 ms of CPU for it.
  const { extract } = tarPackage();
  try {
    await extract({
      file,
      cwd: fresh,
      strict: true,
      preserveOwner: false,
      filter: (path: string, entry: ReadEntry | import('node:fs').Stats) => {
        const e = entry as ReadEntry;
        const problem = entryProblem(path, e.type, e.linkpath);
        if (problem !== null && refused === null) refused = 'bundle entry ' + JSON.stringify(path) + ' ' + problem;
        return problem === null;
      },
    });
  } catch (e) {
    ops.removeTree(fresh);
    throw otaError('IMAGE_INVALID', 'install', 'cannot unpack the bundle: ' + (e as Error).message, { cause: e });
  }
  if (refused !== null) {
    ops.removeTree(fresh);
    throw otaError('IMAGE_INVALID', 'install', refused);
  }
  await syncTree(ops, fresh);
  const old = dir + '.old';
  ops.removeTree(old);
  try {
    ops.rename(dir, old);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  ops.rename(fresh, dir);
  // The rename is durable only once the directory holding it is: before the boot state names the slot.
  await ops.fsyncDir(dirname(dir));
  ops.removeTree(old);
}

/**
 * Packs the directory `dir` into the tar archive `file`, reproducibly: entries sorted, no owners,
 * no times. The same tree gives the same bytes, so a patch between two versions holds only what
 * changed.
 */
export async function packBundle(dir: string, file: string): Promise<void> {
  if (!lstatSync(dir).isDirectory()) throw new Error(dir + ' is not a directory');
  const entries = listTree(dir);
  if (entries.length === 0) throw new Error(dir + ' is empty');
  // What devices would refuse is refused here, before anything is published.
  for (const { path, st } of entries) {
    const type = st.isFile() ? 'File' : st.isDirectory() ? 'Directory' : st.isSymbolicLink() ? 'SymbolicLink' : 'special file';
    const problem = entryProblem(path, type, type === 'SymbolicLink' ? readlinkSync(join(dir, path)) : undefined);
    if (problem !== null) throw new Error(join(dir, path) + ' ' + problem + '; devices refuse such bundles');
  }
  const { create } = tarPackage();
  await create({ cwd: dir, file, portable: true, noMtime: true, noDirRecurse: true }, entries.map((e) => e.path));
}
