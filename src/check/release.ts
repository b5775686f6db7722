/**
 * A release as the pipeline sees it, whatever protocol announced it, and the native manifest
 * format that describes one on the wire (docs/protocol.md).
 */
import { otaError } from '../errors.js';
import { parseVersion } from './version.js';

/** An image offered by the server, validated. */
export interface Release {
  version: string;
  /** Bytes; null when the server does not say before the download (IoTaaP's API). */
  size: number | null;
  /** Lower-case hex SHA-256 of the whole image; null when the server publishes none (IoTaaP's API). */
  sha256: string | null;
  /** Unit of Range requests, checks and resume. */
  chunkSize: number;
  /** CRC-32 of each chunk, in order (`ceil(size / chunkSize)` entries); null when not published. */
  chunkCrc32: number[] | null;
  /** Absolute download URL. */
  url: string;
  /** The operator asks to install this image even where it failed a trial before. */
  overrideRejected: boolean;
  /** The server says: download now, install later (why). */
  installHold?: string;
  /** Marked as an explicit downgrade: may replace a newer version where the device allows it, if `signed`. */
  downgrade?: boolean;
  /** A trusted key verified the manifest's signature: only then does `downgrade` count. */
  signed?: boolean;
  /** Staged rollout: only this percentage of the group installs it (src/check/rollout.ts). */
  rollout?: number;
  /** With no SHA-256 published: the digest the server does publish (hawkBit's sha1, else md5), checked after the download. */
  digest?: { algorithm: 'sha1' | 'md5'; hex: string };
  /** The server waits for the user's consent before this release is downloaded (hawkBit's confirmationBase). */
  consent?: { action: string; denied: boolean };
  /** `"tar"`: the image is a tar archive of an application directory, unpacked into the slot. */
  format?: 'tar';
  /** The same image gzip-compressed: the bytes that travel, checked by their own chunk CRCs. */
  gzip?: Transfer;
  /** VCDIFF patches to this image from earlier ones, for devices running one of those. */
  patches?: Patch[];
}

/** A release whose size is known: what the downloader works on. */
export type SizedRelease = Release & { size: number };

/**
 * A file that travels instead of the image (its gzip, or a patch): downloaded like an image,
 * chunk-verified and resumable, then decoded into the image. A SizedRelease, so the downloader
 * takes it as it is.
 */
export type Transfer = SizedRelease & { sha256: string; chunkCrc32: number[] };

/** A patch from the image whose SHA-256 is `baseSha256`. */
export type Patch = Transfer & { baseSha256: string };

/** Entries of `patches` a manifest may list. */
const MAX_PATCHES = 16;

/** The wire form of a {@link Transfer}: the image fields of a manifest, for another file. */
export interface ManifestTransfer {
  size: number;
  sha256: string;
  chunk_size: number;
  chunk_crc32: number[];
  url: string;
}

/** Chunk size used when the server does not choose one. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

/** The native manifest, as `ota publish` writes it and the check endpoint answers it. */
export interface Manifest {
  ver: string;
  size: number;
  sha256: string;
  chunk_size: number;
  chunk_crc32: number[];
  /** Absolute URL, or a path relative to `ota_domain`. */
  url: string;
  device?: string;
  group?: string;
  published?: string;
  /** Install even on devices where this image failed its trial before. */
  override_rejected?: boolean;
  /** Signed releases: when the manifest stops being valid (ISO 8601). */
  expires?: string;
  /** Signed as an explicit downgrade. */
  downgrade?: boolean;
  /** Staged rollout: the percentage (0 to 100) of the group's devices in the wave. */
  rollout?: number;
  /** Ed25519 signature (base64) over the bound fields (`signedPayload` in src/check/trust.ts). */
  signature?: string;
  /** `"tar"`: a bundle (a directory as a tar archive). */
  format?: 'tar';
  /** The image gzip-compressed. */
  gzip?: ManifestTransfer;
  /** Patches from earlier images (`base_sha256`), made with `xdelta3 -S none`. */
  patches?: (ManifestTransfer & { base_sha256: string })[];
}

/** Number.MAX_SAFE_INTEGER, which Espruino lacks. */
const MAX_SAFE = 9007199254740991;

/** Limits on what a manifest may announce. */
export const MIN_CHUNK_SIZE = 512;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

function isHex64(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isWholeNumber(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && v % 1 === 0 && v >= min && v <= max;
}

function bad(field: string, why: string): never {
  throw otaError('MANIFEST_INVALID', 'check', 'manifest field "' + field + '" ' + why);
}

/** True for a manifest `url` that names its server; other URLs are paths on the update server. */
export function isAbsoluteUrl(url: string): boolean {
  return url.indexOf('http://') === 0 || url.indexOf('https://') === 0;
}

/** Joins a manifest `url` to the server base unless it is already absolute. */
function resolveUrl(base: string, url: string): string {
  if (isAbsoluteUrl(url)) return url;
  return base + (url.charAt(0) === '/' ? '' : '/') + url;
}

/** Checks the fields an image and a transfer share (`size` … `url`), naming them after `prefix`. */
function parseFile(m: { [key: string]: unknown }, prefix: string, version: string, baseUrl: string): Transfer {
  if (!isWholeNumber(m.size, 1, MAX_SAFE)) bad(prefix + 'size', 'must be a whole number of bytes above 0');
  if (typeof m.sha256 !== 'string' || !isHex64(m.sha256.toLowerCase())) bad(prefix + 'sha256', 'must be 64 hexadecimal characters');
  if (!isWholeNumber(m.chunk_size, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE)) {
    bad(prefix + 'chunk_size', 'must be a whole number of bytes from ' + MIN_CHUNK_SIZE + ' to ' + MAX_CHUNK_SIZE);
  }
  const chunks = Math.ceil(m.size / m.chunk_size);
  const crcs = m.chunk_crc32;
  if (!Array.isArray(crcs) || crcs.length !== chunks) bad(prefix + 'chunk_crc32', 'must list ' + chunks + ' CRC-32 values (one per chunk)');
  for (let i = 0; i < crcs.length; i++) {
    if (!isWholeNumber(crcs[i], 0, 4294967295)) bad(prefix + 'chunk_crc32', 'entry ' + i + ' is not an unsigned 32-bit number');
  }
  if (typeof m.url !== 'string' || m.url === '') bad(prefix + 'url', 'is missing; expected the download URL');
  return {
    version,
    size: m.size,
    sha256: m.sha256.toLowerCase(),
    chunkSize: m.chunk_size,
    chunkCrc32: crcs as number[],
    url: resolveUrl(baseUrl, m.url),
    overrideRejected: false,
  };
}

function isObject(v: unknown): v is { [key: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The optional `format`, `gzip` and `patches` fields (devices from before them ignore them). */
function parseAlternatives(m: { [key: string]: unknown }, version: string, baseUrl: string): Pick<Release, 'format' | 'gzip' | 'patches'> {
  const out: Pick<Release, 'format' | 'gzip' | 'patches'> = {};
  if (m.format !== undefined) {
    if (m.format !== 'tar') bad('format', 'must be "tar" (a bundle) when present');
    out.format = 'tar';
  }
  if (m.gzip !== undefined) {
    if (!isObject(m.gzip)) bad('gzip', 'must be an object');
    out.gzip = parseFile(m.gzip, 'gzip.', version, baseUrl);
  }
  if (m.patches !== undefined) {
    const list = m.patches;
    if (!Array.isArray(list) || list.length > MAX_PATCHES) bad('patches', 'must be a list of at most ' + MAX_PATCHES + ' patches');
    const patches: Patch[] = [];
    for (let i = 0; i < list.length; i++) {
      const p: unknown = list[i];
      const prefix = 'patches[' + i + '].';
      if (!isObject(p)) bad('patches', 'entry ' + i + ' must be an object');
      if (typeof p.base_sha256 !== 'string' || !isHex64(p.base_sha256.toLowerCase())) bad(prefix + 'base_sha256', 'must be 64 hexadecimal characters');
      patches.push(Object.assign(parseFile(p, prefix, version, baseUrl), { baseSha256: p.base_sha256.toLowerCase() }));
    }
    out.patches = patches;
  }
  return out;
}

/**
 * Validates a native manifest (parsed JSON) and turns it into a {@link Release}.
 * Throws `MANIFEST_INVALID` (or `VERSION_INVALID`) naming the field that is wrong.
 */
export function parseManifest(data: unknown, baseUrl: string): Release {
  if (!isObject(data)) throw otaError('MANIFEST_INVALID', 'check', 'manifest is not a JSON object');
  const m = data;
  if (m.ver === undefined || m.ver === '') bad('ver', 'is missing; expected the release version');
  if (typeof m.ver !== 'string') bad('ver', 'is ' + JSON.stringify(m.ver) + ', not a string; expected a version such as "1.0.4"');
  const version = parseVersion(m.ver);
  if (version === null) {
    throw otaError('VERSION_INVALID', 'check', 'manifest field "ver" is ' + JSON.stringify(m.ver) + ', which is not a semantic version (expected e.g. "1.0.3")');
  }
  const image = parseFile(m, '', version, baseUrl);
  if (m.override_rejected !== undefined && typeof m.override_rejected !== 'boolean') bad('override_rejected', 'must be true or false');
  if (m.rollout !== undefined && !isWholeNumber(m.rollout, 0, 100)) bad('rollout', 'must be a whole percentage from 0 to 100');
  const release: Release = Object.assign(image, { overrideRejected: m.override_rejected === true, downgrade: m.downgrade === true }, parseAlternatives(m, version, baseUrl));
  if (m.rollout !== undefined) release.rollout = m.rollout as number;
  return release;
}
