/**
 * What a device reports about itself: the boot state, the last check and its error, the next
 * check, and the partial download the next attempt resumes. One function, used by
 * `updater.status()` and by `ota device status` (which may run beside the agent).
 */
import { describeBoot, type BootState, type DeviceStatus } from '../boot/boot-state.js';
import { loadJournal } from '../download/journal.js';
import type { SlotName } from '../install/slots.js';
import type { StateStore } from '../platform/interfaces.js';
import { loadCheckRecord } from './check-record.js';

/** `updater.status()`: the boot state, the last check, and the download in progress. */
export interface UpdaterStatus extends DeviceStatus {
  /** The code of `last_error` when the last check failed (an OtaError code); empty otherwise. */
  last_error_code: string;
  /** When the last check ended (ISO 8601), and its result; null before the first one. */
  last_check: string | null;
  last_result: string | null;
  /** When the next automatic check is due (ISO 8601), as the agent that planned it recorded. */
  next_check: string | null;
  /** The partial download the next attempt resumes: bytes known written and durable, of the image's size. */
  download: { slot: SlotName; received: number; total: number; percent: number } | null;
}

/** The status of the device whose state store is `state` and whose boot state is `boot`. */
export async function deviceStatus(state: StateStore, boot: BootState): Promise<UpdaterStatus> {
  const status = describeBoot(boot);
  const last = await loadCheckRecord(state);
  const j = await loadJournal(state);
  const received = j === null ? 0 : Math.min(j.size, j.synced * j.chunk_size);
  const error = last !== null && last.error !== null ? last.error : null;
  return Object.assign(status, {
    last_error: error ? error.message : status.last_error,
    last_error_code: error ? error.code : '',
    last_check: last ? last.time : null,
    last_result: last ? last.result : null,
    next_check: last ? last.next_check : null,
    download: j === null ? null : { slot: j.slot, received, total: j.size, percent: Math.floor((received * 100) / j.size) },
  });
}
