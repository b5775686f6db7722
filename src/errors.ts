/**
 * Errors are plain `Error` objects with a `code` (no subclasses: Espruino cannot extend Error).
 */

/** What went wrong, as a stable machine-readable code. */
export type OtaErrorCode =
  | 'CONFIG_INVALID'
  | 'NETWORK'
  | 'HTTP_STATUS'
  | 'MANIFEST_INVALID'
  | 'VERSION_INVALID'
  | 'RANGE_INVALID'
  | 'DOWNLOAD_TRUNCATED'
  | 'CHUNK_CRC'
  | 'SHA256_MISMATCH'
  | 'DIGEST_MISMATCH'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_REJECTED'
  | 'IMAGE_INVALID'
  | 'DELTA_INVALID'
  | 'TRIAL_PENDING'
  | 'SLOT_IO'
  | 'DISK_FULL'
  | 'AGENT_RUNNING'
  | 'BOOT_STATE'
  | 'HEALTH_CHECK'
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_INVALID'
  | 'MANIFEST_EXPIRED'
  | 'WRONG_TARGET'
  | 'DOWNGRADE_REFUSED'
  | 'INSECURE_TRANSPORT'
  | 'STOPPED'
  | 'OUT_OF_MEMORY'
  | 'INTERNAL';

/** Pipeline stage in which an error happened. */
export type OtaStage = 'config' | 'check' | 'download' | 'verify' | 'install' | 'boot' | 'report';

/** An error raised by ota-client. `message` says what failed, in words a person can act on. */
export interface OtaError extends Error {
  code: OtaErrorCode;
  stage: OtaStage;
  /** True when the same attempt may succeed later (network faults, 5xx); false for permanent faults. */
  retryable: boolean;
  /** HTTP status, when a server answered. */
  status?: number;
  /** How long the server asked to wait before trying again (Retry-After), in milliseconds. */
  retryAfterMs?: number;
}

/** Creates an {@link OtaError}. */
export function otaError(
  code: OtaErrorCode,
  stage: OtaStage,
  message: string,
  extra?: { retryable?: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
): OtaError {
  const e = new Error(message) as OtaError;
  e.code = code;
  e.stage = stage;
  e.retryable = extra?.retryable ?? false;
  if (extra?.status !== undefined) e.status = extra.status;
  if (extra?.retryAfterMs !== undefined) e.retryAfterMs = extra.retryAfterMs;
  if (extra?.cause !== undefined) (e as { cause?: unknown }).cause = extra.cause;
  return e;
}

/** True for errors made by {@link otaError}. */
export function isOtaError(e: unknown): e is OtaError {
  return typeof e === 'object' && e !== null && typeof (e as OtaError).code === 'string' && typeof (e as OtaError).stage === 'string';
}

/** Wraps anything thrown into an {@link OtaError}, keeping ours unchanged. */
export function toOtaError(e: unknown, stage: OtaStage): OtaError {
  if (isOtaError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return otaError('INTERNAL', stage, message, { cause: e });
}
