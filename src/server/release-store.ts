/**
 * The release directory: plain static files that any HTTP server with Range support can serve.
 *
 *   v1/ota/device/latest/<device_id>   manifest (JSON) of the device's latest release
 *   v1/ota/group/latest/<group_id>     manifest of the group's latest release
 *   firmware/<sha256>.bin              images, content-addressed (immutable, cacheable)
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { crc32 } from '../download/crc32.js';
import type { Manifest } from '../check/release.js';
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../check/release.js';
import { signWith } from '../platform/node/trust.js';
import { signedPayload } from '../check/trust.js';
import { packBundle } from '../platform/node/bundle.js';
import { gzipTransfer, patchTransfer } from './transfers.js';
import { parseVersion } from '../check/version.js';
import { writeAtomic } from './atomic-file.js';
import { tempName } from '../platform/node/file-ops.js';


/** How long a signed manifest stays valid by default. */
const SIGNED_LIFETIME_MS = 30 * 24 * 3600 * 1000;

/** Who a release is for. */
export type Audience = { device: string } | { group: string };

/** Options of {@link publish}. */
export interface PublishOptions {
  dir: string;
  /** The image; ignored with `bundle`. */
  file: string;
  version: string;
  audience: Audience;
  chunkSize?: number;
  /** Install even where this image failed its trial before. */
  overrideRejected?: boolean;
  /** Sign the manifest with this Ed25519 private key (PEM file). */
  key?: string;
  /** When a signed manifest expires (default: 30 days after publishing). */
  expires?: Date;
  /** Mark the release as an explicit downgrade (devices with allow_downgrade accept it signed). */
  downgrade?: boolean;
  /** `"tar"`: `file` is a bundle, unpacked into the slot on the device. */
  format?: 'tar';
  /** An application directory to publish as a bundle (a tar archive), instead of `file`. */
  bundle?: string;
  /** Also publish the image gzip-compressed. */
  compress?: 'gzip';
  /**
   * Also publish patches from these earlier releases: the version the directory holds now for
   * the same device or group, an image file, or (for bundles) an application directory.
   */
  deltaFrom?: string[];
  /** Staged rollout of a group release: the percentage of the group's devices that install it. */
  rollout?: number;
}

/** A rollout percentage is a whole number from 0 to 100. */
export function isRolloutPercent(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 100;
}

/** Ids become file names: letters, digits, `-`, `_`, `.`, not starting with a dot. */
export function isSafeId(id: string): boolean {
  if (id.length === 0 || id.length > 128 || id.charAt(0) === '.') return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95 || c === 46;
    if (!ok) return false;
  }
  return true;
}

/** Path of the manifest for an audience, relative to the release directory. */
export function manifestPath(audience: Audience): string {
  return 'device' in audience ? join('v1/ota/device/latest', audience.device) : join('v1/ota/group/latest', audience.group);
}

/** Size, SHA-256 and per-chunk CRC-32 of a file, read in chunk-sized pieces. */
export async function describeImage(file: string, chunkSize: number): Promise<{ size: number; sha256: string; crcs: number[] }> {
  const hash = createHash('sha256');
  const crcs: number[] = [];
  let size = 0;
  let crc: number | undefined;
  let inChunk = 0;
  for await (const piece of createReadStream(file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    hash.update(piece);
    size += piece.length;
    let pos = 0;
    while (pos < piece.length) {
      const take = Math.min(chunkSize - inChunk, piece.length - pos);
      crc = crc32(piece.subarray(pos, pos + take), crc);
      inChunk += take;
      pos += take;
      if (inChunk === chunkSize) {
        crcs.push(crc);
        crc = undefined;
        inChunk = 0;
      }
    }
  }
  if (inChunk > 0 && crc !== undefined) crcs.push(crc);
  return { size, sha256: hash.digest('hex'), crcs };
}

/** Adds a release to the directory and makes it the latest for its device or group. */
export async function publish(options: PublishOptions): Promise<Manifest> {
  if (options.bundle !== undefined) {
    const tar = tempName(join(options.dir, 'firmware', 'bundle.tar'));
    await mkdir(dirname(tar), { recursive: true });
    await packBundle(options.bundle, tar);
    return publish(Object.assign({}, options, { bundle: undefined, file: tar, format: 'tar' as const })).finally(() => rm(tar, { force: true }));
  }
  const version = parseVersion(options.version);
  if (version === null) throw new Error('--version ' + JSON.stringify(options.version) + ' is not a semantic version (e.g. 1.0.3)');
  const id = 'device' in options.audience ? options.audience.device : options.audience.group;
  if (!isSafeId(id)) throw new Error('id ' + JSON.stringify(id) + ' may hold only letters, digits, "-", "_" and "." (not first)');
  if (options.rollout !== undefined) {
    if (!('group' in options.audience)) throw new Error('--rollout applies to a group release (--group <id>)');
    if (!isRolloutPercent(options.rollout)) throw new Error('--rollout must be a whole percentage from 0 to 100');
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (chunkSize % 1 !== 0 || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new Error('--chunk-size must be from ' + MIN_CHUNK_SIZE + ' to ' + MAX_CHUNK_SIZE + ' bytes');
  }
  const info = await describeImage(options.file, chunkSize);
  if (info.size === 0) throw new Error(options.file + ' is empty');
  const image = join(options.dir, 'firmware', info.sha256 + '.bin');
  await mkdir(dirname(image), { recursive: true });
  const exists = await stat(image).then((s) => s.size === info.size, () => false);
  if (!exists) {
    // The same image uploaded twice at once: each copies to its own file, and either rename leaves it whole.
    const tmp = tempName(image);
    await copyFile(options.file, tmp);
    await rename(tmp, image);
  }
  const manifest: Manifest = {
    ver: version,
    size: info.size,
    sha256: info.sha256,
    chunk_size: chunkSize,
    chunk_crc32: info.crcs,
    url: 'firmware/' + info.sha256 + '.bin',
    published: new Date().toISOString(),
  };
  if (options.format) manifest.format = options.format;
  const describe = Object.assign((file: string) => describeImage(file, chunkSize), { chunkSize });
  if (options.compress === 'gzip') {
    const gzip = await gzipTransfer(options.dir, image, info.sha256, info.size, describe);
    if (gzip) manifest.gzip = gzip;
  }
  for (const from of options.deltaFrom ?? []) {
    const base = await deltaBase(options, from);
    const patch = await patchTransfer(options.dir, base, image, info.sha256, info.size, describe).finally(() => base.packed && rm(base.file, { force: true }));
    if (patch) (manifest.patches = manifest.patches ?? []).push(patch);
  }
  if (options.overrideRejected) manifest.override_rejected = true;
  if ('device' in options.audience) manifest.device = id;
  else manifest.group = id;
  if (options.downgrade) manifest.downgrade = true;
  if (options.rollout !== undefined) manifest.rollout = options.rollout;
  if (options.key) {
    manifest.expires = (options.expires ?? new Date(Date.now() + SIGNED_LIFETIME_MS)).toISOString();
    sign(manifest, options.key);
  }
  await writeAtomic(join(options.dir, manifestPath(options.audience)), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

function sign(manifest: Manifest, key: string): void {
  manifest.signature = signWith(key, signedPayload(manifest as unknown as { [key: string]: unknown }));
}

/** The latest manifest of an audience as published, or null when there is none. */
export async function readManifest(dir: string, audience: Audience): Promise<Manifest | null> {
  const text = await readFile(join(dir, manifestPath(audience)), 'utf8').catch(() => null);
  if (text === null) return null;
  const m = JSON.parse(text) as Manifest;
  return typeof m === 'object' && m !== null && typeof m.ver === 'string' ? m : null;
}

/**
 * Changes the rollout percentage of a group's latest release, re-signing it with `key` when it is
 * signed. Throws when there is no release, or a signed one and no key.
 */
export async function setRollout(dir: string, group: string, percent: number, key?: string): Promise<Manifest> {
  if (!isRolloutPercent(percent)) throw new Error('a rollout is a whole percentage from 0 to 100');
  const manifest = await readManifest(dir, { group });
  if (manifest === null) throw new Error('group ' + group + ' has no release');
  if (manifest.signature !== undefined && key === undefined) throw new Error('the release of group ' + group + ' is signed; changing its rollout needs the signing key (ota serve --key)');
  manifest.rollout = percent;
  if (manifest.signature !== undefined) sign(manifest, key!);
  await writeAtomic(join(dir, manifestPath({ group })), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

/**
 * The base image `--delta-from` names: the release the directory holds now for the same device or
 * group (by version), an image file, or an application directory (packed as `--bundle` packs it).
 */
async function deltaBase(options: PublishOptions, from: string): Promise<{ file: string; sha256: string; packed: boolean }> {
  let file = from;
  let packed = false;
  if (parseVersion(from) !== null) {
    const current = await readManifest(options.dir, options.audience);
    if (current === null || current.ver !== parseVersion(from)) {
      throw new Error('--delta-from ' + from + ': the release directory holds ' + (current ? current.ver : 'nothing') + ' for this ' + ('device' in options.audience ? 'device' : 'group') + '; give the old image (or bundle directory) instead');
    }
    file = join(options.dir, current.url);
  } else if (await stat(from).then((s) => s.isDirectory(), () => false)) {
    file = tempName(join(options.dir, 'firmware', 'delta-base.tar'));
    await packBundle(from, file);
    packed = true;
  }
  const info = await describeImage(file, MAX_CHUNK_SIZE).catch((e: Error) => {
    throw new Error('--delta-from ' + from + ': ' + e.message);
  });
  return { file, sha256: info.sha256, packed };
}
