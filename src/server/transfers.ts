/**
 * What a release may travel as besides the image itself: the image gzip-compressed, and VCDIFF
 * patches from earlier images, made with Debian's xdelta3 (`-S none`: no secondary compression, so
 * the device's own decoder reads them). Each is a content-addressed file beside the image, listed
 * in the manifest with its size, SHA-256 and chunk CRCs (docs/protocol.md); one that would not save
 * bytes is left out.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ManifestTransfer } from '../check/release.js';
import { MAX_DELTA_WINDOW } from '../download/transfers.js';
import { tempName } from '../platform/node/file-ops.js';

/** Describes a file as a manifest does (`describeImage`, with the release's chunk size). */
export interface Describe {
  chunkSize: number;
  (file: string): Promise<{ size: number; sha256: string; crcs: number[] }>;
}

/** Lists `file` (inside `dir`, under `name`) as a transfer, or removes it when it saves nothing. */
async function listed(dir: string, file: string, name: string, imageSize: number, describe: Describe): Promise<ManifestTransfer | null> {
  const info = await describe(file);
  if (info.size >= imageSize) {
    await rm(file, { force: true });
    return null;
  }
  await rename(file, join(dir, 'firmware', name));
  return { size: info.size, sha256: info.sha256, chunk_size: describe.chunkSize, chunk_crc32: info.crcs, url: 'firmware/' + name };
}

/** The image gzip-compressed (level 9) as `firmware/<sha256>.bin.gz`; null when it is not smaller. */
export async function gzipTransfer(dir: string, image: string, sha256: string, size: number, describe: Describe): Promise<ManifestTransfer | null> {
  const tmp = tempName(join(dir, 'firmware', sha256 + '.bin.gz'));
  await pipeline(createReadStream(image), createGzip({ level: 9 }), createWriteStream(tmp));
  return listed(dir, tmp, sha256 + '.bin.gz', size, describe);
}

/** Runs xdelta3, saying how to install it when it is missing. */
function xdelta3(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('xdelta3', args, (e, _stdout, stderr) => {
      if (e && (e as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('--delta-from needs xdelta3, which is not installed: `apt-get install xdelta3` (Debian, Ubuntu), `dnf install xdelta` or `brew install xdelta`'));
      } else if (e) reject(new Error('xdelta3 failed: ' + (stderr.trim() || e.message)));
      else resolve();
    });
  });
}

/**
 * A patch from the image `base` (its SHA-256 `baseSha256`) to `image`, as
 * `firmware/<base sha256>-<sha256>.vcdiff`; null when it is not smaller than the image.
 */
export async function patchTransfer(
  dir: string,
  base: { file: string; sha256: string },
  image: string,
  sha256: string,
  size: number,
  describe: Describe,
): Promise<(ManifestTransfer & { base_sha256: string }) | null> {
  const name = base.sha256 + '-' + sha256 + '.vcdiff';
  const tmp = tempName(join(dir, 'firmware', name));
  // -W: the window the devices decode with (their memory bound); -A=: no file names in the patch.
  await xdelta3(['-e', '-f', '-S', 'none', '-A=', '-W', String(MAX_DELTA_WINDOW), '-s', base.file, image, tmp]);
  const patch = await listed(dir, tmp, name, size, describe);
  return patch === null ? null : Object.assign({ base_sha256: base.sha256 }, patch);
}
