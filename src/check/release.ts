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
}

/** A release whose size is known: what the downloader works on. */
export type SizedRelease = Release & { size: number };

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

/**
 * Validates a native manifest (parsed JSON) and turns it into a {@link Release}.
 * Throws `MANIFEST_INVALID` (or `VERSION_INVALID`) naming the field that is wrong.
 */
export function parseManifest(data: unknown, baseUrl: string): Release {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw otaError('MANIFEST_INVALID', 'check', 'manifest is not a JSON object');
  }
  const m = data as { [key: string]: unknown };
  if (m.ver === undefined || m.ver === '') bad('ver', 'is missing; expected the release version');
  if (typeof m.ver !== 'string') bad('ver', 'is ' + JSON.stringify(m.ver) + ', not a string; expected a version such as "1.0.4"');
  const version = parseVersion(m.ver);
  if (version === null) {
    throw otaError('VERSION_INVALID', 'check', 'manifest field "ver" is ' + JSON.stringify(m.ver) + ', which is not a semantic version (expected e.g. "1.0.3")');
  }
  if (!isWholeNumber(m.size, 1, MAX_SAFE)) bad('size', 'must be a whole number of bytes above 0');
  if (typeof m.sha256 !== 'string' || !isHex64(m.sha256.toLowerCase())) bad('sha256', 'must be 64 hexadecimal characters');
  if (!isWholeNumber(m.chunk_size, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE)) {
    bad('chunk_size', 'must be a whole number of bytes from ' + MIN_CHUNK_SIZE + ' to ' + MAX_CHUNK_SIZE);
  }
  const chunks = Math.ceil(m.size / m.chunk_size);
  const crcs = m.chunk_crc32;
  if (!Array.isArray(crcs) || crcs.length !== chunks) bad('chunk_crc32', 'must list ' + chunks + ' CRC-32 values (one per chunk)');
  for (let i = 0; i < crcs.length; i++) {
    if (!isWholeNumber(crcs[i], 0, 4294967295)) bad('chunk_crc32', 'entry ' + i + ' is not an unsigned 32-bit number');
  }
  if (typeof m.url !== 'string' || m.url === '') bad('url', 'is missing; expected the image download URL');
  if (m.override_rejected !== undefined && typeof m.override_rejected !== 'boolean') bad('override_rejected', 'must be true or false');
  if (m.rollout !== undefined && !isWholeNumber(m.rollout, 0, 100)) bad('rollout', 'must be a whole percentage from 0 to 100');
  const release: Release = {
    version,
    size: m.size,
    sha256: m.sha256.toLowerCase(),
    chunkSize: m.chunk_size,
    chunkCrc32: crcs as number[],
    url: resolveUrl(baseUrl, m.url),
    overrideRejected: m.override_rejected === true,
    downgrade: m.downgrade === true,
  };
  if (m.rollout !== undefined) release.rollout = m.rollout as number;
  return release;
}
