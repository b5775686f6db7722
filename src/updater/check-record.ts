/**
 * The last check, kept in the state store (`check.json`): when the device last asked, what came of
 * it, the error and its code when it failed, and when it asks next. `updater.status()` and
 * `ota device status` read it, also from another process than the agent's.
 */
import { toOtaError } from '../errors.js';
import type { Logger, StateStore } from '../platform/interfaces.js';
import { isoTime } from '../text/iso-time.js';
import type { CheckResult } from './results.js';

/** Name of the record in the state store. */
const CHECK_RECORD = 'check.json';

/** What the record holds. */
export interface CheckRecord {
  /** When the check ended (ISO 8601, UTC). */
  time: string;
  /** `up-to-date`, `no-firmware`, `updated`, `deferred` or `failed`. */
  result: string;
  /** The version the server offered, when it offered one. */
  latest: string | null;
  /** The error of a failed check: its OtaError code and message. */
  error: { code: string; message: string } | null;
  /** When the next automatic check is due (ISO 8601, UTC); null when none is planned. */
  next_check: string | null;
}

/** Reads the record; null when there is none or it cannot be understood (it is only informative). */
export async function loadCheckRecord(state: StateStore): Promise<CheckRecord | null> {
  const text = await state.read(CHECK_RECORD);
  if (text === null) return null;
  try {
    const r = JSON.parse(text) as CheckRecord;
    return typeof r === 'object' && r !== null && typeof r.time === 'string' && typeof r.result === 'string' ? r : null;
  } catch (e) {
    return null;
  }
}

/** Writes the record (atomically, through the store). */
function saveCheckRecord(state: StateStore, r: CheckRecord): Promise<void> {
  return state.write(CHECK_RECORD, JSON.stringify(r));
}


/** Keeps what a check came to, and when the next is due; a failure to write is only logged. */
export async function recordCheck(state: StateStore, logger: Logger, now: number, r: CheckResult, nextCheckAt: number | null): Promise<void> {
  const failed = r.status === 'failed' ? r : null;
  const entry = {
    time: isoTime(now),
    result: r.status,
    latest: r.status === 'up-to-date' || r.status === 'deferred' ? r.latest : r.status === 'updated' ? r.version : null,
    error: failed ? { code: failed.error.code, message: failed.message } : null,
    next_check: nextCheckAt === null ? null : isoTime(nextCheckAt),
  };
  try {
    await saveCheckRecord(state, entry);
  } catch (e) {
    logger.log('WARNING', 'Could not record the check in the state directory: ' + toOtaError(e, 'report').message);
  }
}
