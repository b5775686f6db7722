/**
 * What the parts of an updater share: its settings, platform, protocol and scheduler, what one
 * check leaves for the next, and the few operations that both the boot steps (`updater.ts`) and
 * a check (`check-run.ts`) use. The parts talk through this object rather than the Updater
 * class, so the Espruino build can keep a check's code in a file of its own, loaded only while a
 * check runs (docs/espruino.md).
 */
import { initialBootState, type BootState } from '../boot/boot-state.js';
import { loadBootState, saveBootState } from '../boot/boot-store.js';
import type { Protocol, StatusReport } from '../check/protocol.js';
import type { OtaConfig } from '../config/config.js';
import { otaError, toOtaError } from '../errors.js';
import type { SlotName } from '../install/slots.js';
import type { Mask } from '../log/redact.js';
import type { Platform } from '../platform/interfaces.js';
import type { Scheduler } from '../schedule/scheduler.js';
import type { AllocationGuard } from './allocation-guard.js';
import type { UpdaterEvents } from './results.js';

/** An image downloaded and verified whose install was deferred. */
export interface ReadyImage {
  version: string;
  sha256: string;
  size: number;
  slot: SlotName;
}

/** The state of one updater that its parts share. */
export interface UpdaterCore {
  readonly config: OtaConfig;
  /** The platform, its logger redacting the secrets and its state store guarded by `memory`. */
  readonly platform: Platform;
  readonly protocol: Protocol;
  /** No state is written once an allocation failed (see allocation-guard.ts). */
  readonly memory: AllocationGuard;
  /** Masks the configured secrets in every form. */
  readonly mask: Mask;
  readonly scheduler: Scheduler;
  /** Reasons the application gave for holding installs (`Updater.inhibit`). */
  readonly inhibitors: string[];
  /** The image whose install was deferred: later checks install it as it is. */
  ready: ReadyImage | null;
  /** True from an offer's `update-available` to the end of its check. */
  updating: boolean;
  /** Wall-clock time of the next automatic check, for the check record; null when none is planned. */
  nextCheckAt: number | null;
  /** The Updater's own `emit`. */
  emit<K extends keyof UpdaterEvents>(event: K, ...args: UpdaterEvents[K]): boolean;
}

/** Saves the boot state and tells the boot selector. */
export function saveBoot(core: UpdaterCore, s: BootState): Promise<BootState> {
  return saveBootState(core.platform.state, core.platform.bootSelector, s);
}

/** The boot state; the first one is made from `firmware_version`. */
export async function loadBoot(core: UpdaterCore): Promise<BootState> {
  const s = await loadBootState(core.platform.state);
  if (s !== null) return s;
  if (core.config.firmware_version === '') {
    throw otaError('CONFIG_INVALID', 'config', 'the running firmware version is unknown: set "firmware_version" in default.cfg (or create the device with `ota device init`)');
  }
  return saveBoot(core, initialBootState({ version: core.config.firmware_version, sha256: '', size: 0 }, core.config.boot_attempts));
}

/** The longest wait for a status report: twice a JSON exchange's timeout, for callbacks lost on a board. */
const REPORT_MS = 30000;

/** Sends a status report; a failure to send is only logged. */
export async function send(core: UpdaterCore, report: StatusReport): Promise<void> {
  try {
    // Bounded where a lost callback could leave it pending: a report never holds up a result.
    await core.memory.within(core.protocol.report(report), REPORT_MS, 'the report');
  } catch (e) {
    core.platform.logger.log('WARNING', 'Could not report "' + report.stage + '" to the server: ' + toOtaError(e, 'report').message);
  }
}

/** Notes when the next automatic check is due (`delay` from the scheduler; null: none planned). */
export function planNext(core: UpdaterCore, delay: number | null): number | null {
  core.nextCheckAt = delay === null ? null : core.platform.clock.date() + delay;
  return delay;
}
