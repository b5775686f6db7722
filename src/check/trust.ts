/**
 * What makes a manifest trustworthy before anything is downloaded: an Ed25519 signature by a
 * trusted key over the fields that matter (version, size, SHA-256, chunk CRCs, target, expiry,
 * downgrade and override flags, an absolute image URL, a rollout percentage), a target that is
 * this device or its group, and an expiry in the future.
 */
import { otaError } from '../errors.js';
import { isAbsoluteUrl } from './release.js';

/** Checks signatures with the trusted public keys. */
export interface Trust {
  /** How many keys are trusted; 0 means signatures are not required. */
  keys: number;
  /** True when `signature` (base64) over `message` verifies with one of the keys. */
  verify(message: string, signature: string): boolean;
}

type Json = { [key: string]: unknown };

/**
 * The exact text a manifest signature covers: its bound fields, in a fixed order. An absolute
 * image URL is bound too, as a twelfth entry, so that no other server can be named in its place
 * (a relative URL is on the update server the device already trusts). Manifests with relative
 * URLs, which is all `ota publish` writes, sign the same text as before, and their signatures
 * stay valid.
 */
export function signedPayload(m: Json): string {
  const fields: unknown[] = [
    'ota-client manifest v1',
    m.ver ?? null,
    m.size ?? null,
    m.sha256 ?? null,
    m.chunk_size ?? null,
    m.chunk_crc32 ?? null,
    m.device ?? null,
    m.group ?? null,
    m.expires ?? null,
    m.downgrade === true,
    m.override_rejected === true,
  ];
  if (typeof m.url === 'string' && isAbsoluteUrl(m.url)) fields.push(m.url);
  // Bound only when present, so manifests signed before rollouts existed keep verifying; bound,
  // so a mirror cannot widen a staged rollout or lift a halted one.
  if (m.rollout !== undefined) fields.push(m.rollout);
  return JSON.stringify(fields);
}

/**
 * Refuses a manifest that is unsigned (when keys are trusted), wrongly signed, expired, or meant
 * for another device or group. Throws OtaErrors with specific codes. Returns true when a trusted
 * key verified its signature: only then do the flags it carries (`downgrade`) count.
 */
export function checkManifest(m: Json, trust: Trust | undefined, target: { device: string; group: string }, nowMs: number): boolean {
  const signed = trust !== undefined && trust.keys > 0;
  if (signed) {
    if (typeof m.signature !== 'string' || m.signature === '') {
      throw otaError('SIGNATURE_MISSING', 'check', 'manifest for ' + String(m.ver) + ' is not signed, and this device trusts only signed manifests');
    }
    if (m.signature.length > 200 || !trust.verify(signedPayload(m), m.signature)) {
      throw otaError('SIGNATURE_INVALID', 'check', 'manifest for ' + String(m.ver) + ' has a signature that no trusted key verifies (tampered, or signed with another key)');
    }
    if (typeof m.expires !== 'string') throw otaError('SIGNATURE_INVALID', 'check', 'signed manifest has no "expires" time');
  }
  if (m.expires !== undefined) {
    const at = typeof m.expires === 'string' ? Date.parse(m.expires) : NaN;
    if (isNaN(at)) throw otaError('MANIFEST_INVALID', 'check', 'manifest field "expires" is not a time');
    if (at <= nowMs) throw otaError('MANIFEST_EXPIRED', 'check', 'manifest for ' + String(m.ver) + ' expired at ' + m.expires + ' (a replayed or stale manifest)');
  }
  if (m.device !== undefined && m.device !== target.device) {
    throw otaError('WRONG_TARGET', 'check', 'manifest is for device ' + JSON.stringify(m.device) + ', not this device (' + target.device + ')');
  }
  if (m.group !== undefined && m.group !== target.group) {
    throw otaError('WRONG_TARGET', 'check', 'manifest is for group ' + JSON.stringify(m.group) + ', not this device' + "'" + 's group (' + (target.group || 'none') + ')');
  }
  return signed;
}
