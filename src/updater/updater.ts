/**
 * The updater: runs the pipeline check → decide → download → verify → install → reboot, owns the
 * scheduler, and turns every failure into a result that says what failed and what happens next.
 */
import { EventEmitter } from 'eventemitter3';
import {
  beginWrite,
  bootFromLoader,
  bootSelect,
  confirmBooted,
  confirmNeedsHash,
  initialBootState,
  markInstalled,
  rejectTrial,
  rollBack,
  updateTarget,
  type BootState,
  type DeviceStatus,
  type SlotImage,
} from '../boot/boot-state.js';
import { loadBootState, saveBootState } from '../boot/boot-store.js';
import type { Protocol, StatusReport } from '../check/protocol.js';
import type { Release, SizedRelease } from '../check/release.js';
import { protocolFor } from '../check/select.js';
import { giveConsent } from '../check/consent.js';
import { SECRET_KEYS, type OtaConfig } from '../config/config.js';
import { formatDuration } from '../config/durations.js';
import { isPlainRemote } from '../config/url-policy.js';
import type { DownloadProgress } from '../download/downloader.js';
import { discardJournal } from '../download/journal.js';
import { probeSize } from '../download/size-probe.js';
import { discardStaged, fetchImage, type RunningImage } from '../download/transfers.js';
import { otaError, toOtaError, type OtaError, type OtaStage } from '../errors.js';
import { ESP32_MAGIC, validateEsp32Image } from '../install/esp32-image.js';
import { hashSlot, type SlotName } from '../install/slots.js';
import { maskedError, masker, redacting, type Mask } from '../log/redact.js';
import type { LogLevel, Platform, RebootRequest, StopSignal } from '../platform/interfaces.js';
import { minuteOfDay, parseWindow } from '../schedule/maintenance-window.js';
import { Scheduler, type RunOutcome } from '../schedule/scheduler.js';
import { decide, type Decision, type Hold } from './decide.js';
import { stopController } from './stop-controller.js';
import { allocationGuard, outOfMemory, type AllocationGuard } from './allocation-guard.js';
import { isoTime, saveCheckRecord } from './check-record.js';
import { deviceStatus, type UpdaterStatus } from './status.js';
import { progressLog } from '../log/progress-log.js';

/** Events of an {@link Updater}, with their arguments. */
export interface UpdaterEvents {
  /** A check started. */
  checking: [];
  /** The server offers a newer version than the one running. */
  'update-available': [info: { version: string; current: string; size: number }];
  /** The running version is the latest (or newer). */
  'up-to-date': [info: { version: string; latest: string }];
  /** Download progress, throttled. */
  'download-progress': [progress: DownloadProgress];
  /** The downloaded image matched the published SHA-256. */
  verified: [info: { version: string; sha256: string; slot: SlotName }];
  /** The image is installed in the inactive slot and will boot on trial. */
  installed: [info: { version: string; slot: SlotName }];
  /** The device is about to reboot. */
  rebooting: [request: RebootRequest];
  /** A check, update or boot step failed. */
  error: [error: OtaError];
  /**
   * The server waits for the user's consent before this update (hawkBit's confirmationBase):
   * answer with {@link Updater.consent} (or `ota consent yes|no`). `denied` is true when the user
   * already said no to this action.
   */
  'consent-required': [info: { version: string; current: string; action: string; denied: boolean }];
}

/** What {@link Updater.checkForUpdates} resolves to. It never rejects. */
export type CheckResult =
  | { status: 'up-to-date'; version: string; latest: string }
  | {
      status: 'no-firmware';
      version: string;
      /** The address that answered 404 (the device's own manifest), when the protocol has one. */
      url?: string;
    }
  | { status: 'updated'; version: string; from: string; slot: SlotName; rebooting: true }
  | {
      status: 'deferred';
      /** The running version. */
      version: string;
      /** The version downloaded and verified, waiting to be installed. */
      latest: string;
      /** Why it waits: an inhibitor, the maintenance window, the server, or the user's consent. */
      reason: string;
    }
  | {
      status: 'failed';
      error: OtaError;
      /** What failed and what happens next, in one sentence for people. */
      message: string;
    };

/** What {@link Updater.check} finds: what a check would do now, with nothing downloaded or written. */
export interface CheckPreview {
  /** The running version. */
  version: string;
  /** The release the server offers; null when it has none (HTTP 404). */
  offered: Release | null;
  /** What would be done with it; null when nothing is offered. */
  decision: Decision | null;
  /** The address of the device's own manifest, when the protocol has one. */
  url?: string;
}

/** Options of {@link Updater.checkForUpdates}. */
export interface CheckOptions {
  /** Install even outside the maintenance window (an operator's "update now"). */
  force?: boolean;
}

/** The longest wait for a status report: twice a JSON exchange's timeout, for callbacks lost on a board. */
const REPORT_MS = 30000;

/** Answers to a remote trigger, as IoTaaP OS gives them. */
const TRIGGER_CODES = { received: 200, updating: 201, sameVersion: 202, noneOrError: 203 };

/** The IoTaaP response code for a check's result. */
function codeFor(r: CheckResult): number {
  if (r.status === 'up-to-date') return TRIGGER_CODES.sameVersion;
  if (r.status === 'no-firmware' || r.status === 'failed') return TRIGGER_CODES.noneOrError;
  return TRIGGER_CODES.updating;
}

/** Options of the core updater. */
export interface UpdaterOptions {
  config: OtaConfig;
  platform: Platform;
  /** Protocol adapter; defaults to the one `config.protocol` names. */
  protocol?: Protocol;
}

/** Where a run is, for the message of a failure. */
interface RunState {
  stage: OtaStage;
  boot: BootState | null;
  running: string;
  /** The slot being written, once a write began. */
  target: SlotName | null;
  offered: string;
}

/**
 * Keeps one device's firmware up to date. Create it with `createUpdater()`.
 */
export class Updater extends EventEmitter<UpdaterEvents> {
  private readonly config: OtaConfig;
  private readonly platform: Platform;
  private readonly memory: AllocationGuard;
  private readonly protocol: Protocol;
  private readonly scheduler: Scheduler;
  private running: Promise<CheckResult> | null = null;
  /** Stops the running check's download. */
  private stopRun: (() => void) | null = null;
  private readonly inhibitors: string[] = [];
  /** Masks the configured secrets in every form. */
  private readonly mask: Mask;
  /** Wall-clock time of the next automatic check, for the check record. */
  private nextCheckAt: number | null = null;
  /** True while a remote trigger's check runs: it answers its own codes. */
  private triggered = false;
  /** True from an offer's `update-available` to the end of its run. */
  private updating = false;
  /** An image downloaded and verified whose install was deferred: later checks install it as it is. */
  private ready: { version: string; sha256: string; size: number; slot: SlotName } | null = null;

  constructor(options: UpdaterOptions) {
    super();
    const c = options.config;
    this.config = c;
    this.memory = allocationGuard(options.platform);
    // Secrets never reach the log, whoever writes it, nor the results and errors handed out; no
    // state is written after running out of memory.
    this.mask = masker(SECRET_KEYS.map((k) => String(c[k as keyof OtaConfig])));
    this.platform = Object.assign({}, options.platform, { logger: redacting(options.platform.logger, this.mask), state: this.memory.state });
    this.protocol = options.protocol ?? protocolFor(c, this.platform);
    this.scheduler = new Scheduler({
      clock: this.platform.clock,
      random: this.platform.random,
      firstDelayMs: c.first_check_delay * 1000,
      intervalMs: c.check_interval * 1000,
      jitter: c.check_jitter,
      retryBaseMs: c.retry_delay * 1000,
      minIntervalMs: c.min_check_interval * 1000,
      maxIntervalMs: c.max_check_interval * 1000,
      honourServer: c.server_interval,
      run: () => this.checkForUpdates(),
    });
  }

  /**
   * Asks the server for the latest version and, when it is newer than the running one, downloads,
   * verifies and installs it, then reboots into it on trial. Concurrent calls share one run.
   */
  checkForUpdates(options: CheckOptions = {}): Promise<CheckResult> {
    const result = this.runOnce(options);
    const trigger = this.platform.trigger;
    // Every check's outcome goes to the update-response topic, not only remote ones (IoTaaP OS
    // answers those alone): the console then shows what the device last found.
    if (trigger && trigger.announce && !this.triggered) result.then((r) => trigger.announce!(codeFor(r)));
    return result;
  }

  private runOnce(options: CheckOptions): Promise<CheckResult> {
    if (this.running === null) {
      const stopper = stopController();
      const done = () => {
        this.running = null;
        this.stopRun = null;
        this.updating = false;
      };
      this.stopRun = stopper.stop;
      this.running = this.run(options.force === true, stopper.signal).then((r) => this.finish(r));
      this.running.then(done, done);
    }
    return this.running;
  }

  /**
   * Starts automatic checks when `auto_update` is true (first after `first_check_delay`, then
   * every `check_interval`), and listens for remote triggers when the platform has them. Manual
   * checks and remote triggers work whether `auto_update` is on or off.
   */
  start(): void {
    if (this.platform.trigger) this.platform.trigger.start((respond) => this.onTrigger(respond));
    if (!this.config.auto_update) {
      this.platform.logger.log('INFO', 'Automatic updates are off (auto_update: false); manual checks and remote triggers still work');
      return;
    }
    this.scheduler.start();
    this.nextCheckAt = this.platform.clock.date() + this.config.first_check_delay * 1000;
  }

  /**
   * What a check would do now: asks the server and decides, but downloads, writes and reports
   * nothing (`ota device check`).
   */
  async check(): Promise<CheckPreview> {
    const at: RunState = { stage: 'check', boot: await this.bootState(), running: '', target: null, offered: '' };
    at.running = this.runningVersion(at.boot!);
    const offered = await this.protocol.check({ version: at.running });
    const preview: CheckPreview = { version: at.running, offered, decision: offered === null ? null : decide(this.facts(at, offered, offered.sha256, false)) };
    if (this.protocol.checkUrl) preview.url = this.protocol.checkUrl;
    return preview;
  }

  /** Keeps what a check came to in the state store, for status; a failure to write is only logged. */
  private async record(r: CheckResult): Promise<void> {
    const failed = r.status === 'failed' ? r : null;
    const entry = {
      time: isoTime(this.platform.clock.date())!,
      result: r.status,
      latest: r.status === 'up-to-date' || r.status === 'deferred' ? r.latest : r.status === 'updated' ? r.version : null,
      error: failed ? { code: failed.error.code, message: failed.message } : null,
      next_check: isoTime(this.nextCheckAt),
    };
    try {
      await saveCheckRecord(this.platform.state, entry);
    } catch (e) {
      this.platform.logger.log('WARNING', 'Could not record the check in the state directory: ' + toOtaError(e, 'report').message);
    }
  }

  /**
   * Stops automatic checks and remote triggers. A download under way stops at the next chunk
   * boundary, its verified bytes kept for the next start; resolves once the check has ended.
   */
  async stop(): Promise<void> {
    this.scheduler.stop();
    this.nextCheckAt = null;
    if (this.stopRun) this.stopRun();
    if (this.platform.trigger) await this.platform.trigger.stop();
    if (this.running) await this.running;
  }

  /**
   * Defers installs while the application is busy (`reason` says with what): updates are still
   * downloaded and verified, then wait. Returns the function that lifts this inhibitor.
   */
  inhibit(reason: string): () => void {
    const token = reason + '';
    this.inhibitors.push(token);
    return () => {
      const i = this.inhibitors.indexOf(token);
      if (i >= 0) this.inhibitors.splice(i, 1);
    };
  }

  /**
   * Gives (true) or denies (false) consent to the update that waits for it (the
   * `consent-required` event), then checks at once. The answer is kept in the state store, so
   * one given before the server asks applies to the next update that needs it.
   */
  async consent(yes: boolean): Promise<CheckResult> {
    await giveConsent(this.platform.state, yes);
    this.platform.logger.log('INFO', 'Consent to the waiting update ' + (yes ? 'given' : 'denied'));
    return this.checkForUpdates();
  }

  /** A remote "update now": answered 200 at once, 201 when an update starts, 202 when up to date, 203 otherwise. */
  private async onTrigger(respond: (code: number) => void): Promise<void> {
    this.platform.logger.log('INFO', 'Update requested remotely');
    respond(TRIGGER_CODES.received);
    // An update already under way (a scheduled check downloading) is this request's answer too.
    let updating = this.running !== null && this.updating;
    if (updating) respond(TRIGGER_CODES.updating);
    const onAvailable = () => {
      updating = true;
      respond(TRIGGER_CODES.updating);
    };
    this.once('update-available', onAvailable);
    this.triggered = true;
    const r = await this.runOnce({ force: true });
    this.triggered = false;
    this.off('update-available', onAvailable);
    const code = codeFor(r);
    if (code !== TRIGGER_CODES.updating || !updating) respond(code);
  }

  /** The running slot, its version and boot state, the last and next check, and a partial download. */
  async status(): Promise<UpdaterStatus> {
    return deviceStatus(this.platform.state, await this.bootState());
  }

  /**
   * The boot step, run once when the device starts: starts or retries a pending trial, or brings
   * the previous slot back when the trial used all its attempts. Where the boot loader chooses
   * the slot (U-Boot, GRUB), what it booted decides: a trial slot that did not come up counts a
   * failed attempt and is never recorded as running.
   */
  async boot(): Promise<DeviceStatus> {
    this.memory.begin();
    const before = await this.bootState();
    const selector = this.platform.bootSelector;
    const view = selector.booted ? await selector.booted() : null;
    if (view !== null && before.trial !== null && view.slot !== before.trial) {
      this.platform.logger.log('WARNING', 'Slot ' + before.trial + ' was to boot on trial but the boot loader booted slot ' + view.slot);
    }
    const after = await this.save(view === null ? bootSelect(before) : bootFromLoader(before, view));
    if (before.trial !== null && after.trial === null && after.state === 'reverted') {
      this.platform.logger.log('ERROR', 'Update reverted: ' + after.last_error);
      await this.report(before, { stage: 'failed', reason: after.last_error, code: 'BOOT_STATE', reverted: true });
    }
    if (after.trial === null && after.booted !== after.confirmed) {
      // The boot loader's environment was behind (a cut before it was written): it is now, so boot what it says.
      const image = after.slots[after.confirmed];
      this.platform.logger.log('WARNING', 'The boot loader booted slot ' + after.booted + ' but slot ' + after.confirmed + ' is the one to run');
      await this.reboot({ slot: after.confirmed, version: image ? image.version : '', reason: 'revert' });
    }
    return this.status();
  }

  /**
   * Confirms the slot running on trial: it becomes the known-good slot. Confirming a slot that is
   * already confirmed does nothing (the application and a health check may both confirm).
   * Refused unless the boot loader (where it says) booted that slot and the slot's bytes hash to
   * what was installed.
   */
  async confirm(): Promise<void> {
    this.memory.begin();
    const before = await this.bootState();
    if (before.state === 'confirmed' && before.booted === before.confirmed && before.trial === null) return;
    const image = before.slots[before.booted];
    const view = this.platform.bootSelector.booted ? await this.platform.bootSelector.booted() : null;
    if (view !== null && view.slot !== before.booted) {
      throw otaError('BOOT_STATE', 'boot', 'nothing to confirm: slot ' + before.booted + ' is recorded on trial but the boot loader booted slot ' + view.slot);
    }
    if (image !== null && image.sha256 !== '' && before.state === 'trial') {
      const again = confirmNeedsHash(image, this.platform.systemBootId ? this.platform.systemBootId() : null);
      this.platform.logger.log('DEBUG', 'Slot ' + before.booted + (again ? ' hashed again: the system restarted since it was written, or cannot tell' : ' not hashed again: written and verified in this system boot'));
      const actual = again ? await hashSlot(this.platform.slots, before.booted, image.size, this.platform.sha256()) : image.sha256;
      if (actual !== image.sha256) {
        throw otaError('BOOT_STATE', 'boot', 'slot ' + before.booted + ' does not hold the image installed there (' + image.version + ': SHA-256 ' + actual + ', expected ' + image.sha256 + '); not confirmed');
      }
    }
    const s = await this.save(confirmBooted(before));
    this.platform.logger.log('INFO', 'Slot ' + s.booted + ' (' + (image ? image.version : '?') + ') confirmed');
    await this.report(s, { stage: 'confirmed' });
  }

  /**
   * Rejects the slot running on trial (`reason` says why), reports it and reboots into the
   * previous slot. That image is never installed again.
   */
  async revert(reason: string): Promise<void> {
    await this.goBack(rejectTrial, reason, 'ERROR', 'Update reverted: ');
  }

  /**
   * Goes back to the image in the other slot (`reason` says why) and reboots into it: a slot on
   * trial is rejected as by {@link revert}; a confirmed version is rejected too, so the next check
   * does not install it again, unless it is published with override_rejected.
   */
  async rollBack(reason: string): Promise<void> {
    await this.goBack(rollBack, reason, 'WARNING', 'Rolled back: ');
  }

  /** Applies a transition back to the confirmed slot, logs and reports it, and reboots there. */
  private async goBack(transition: (s: BootState, reason: string) => BootState, reason: string, level: LogLevel, what: string): Promise<void> {
    this.memory.begin();
    const before = await this.bootState();
    const s = await this.save(transition(before, reason));
    this.platform.logger.log(level, what + reason);
    await this.report(before, { stage: 'failed', reason, code: 'HEALTH_CHECK', reverted: true });
    const image = s.slots[s.confirmed];
    await this.reboot({ slot: s.confirmed, version: image ? image.version : '', reason: 'revert' });
  }

  private save(s: BootState): Promise<BootState> {
    return saveBootState(this.platform.state, this.platform.bootSelector, s);
  }

  private async bootState(): Promise<BootState> {
    const s = await loadBootState(this.platform.state);
    if (s !== null) return s;
    if (this.config.firmware_version === '') {
      throw otaError('CONFIG_INVALID', 'config', 'the running firmware version is unknown: set "firmware_version" in default.cfg (or create the device with `ota device init`)');
    }
    const initial = initialBootState({ version: this.config.firmware_version, sha256: '', size: 0 }, this.config.boot_attempts);
    return this.save(initial);
  }

  /** One check: the steps of the pipeline; a failure becomes a result. */
  private async run(force: boolean, signal: StopSignal): Promise<CheckResult> {
    const at: RunState = { stage: 'check', boot: null, running: this.config.firmware_version, target: null, offered: '' };
    this.memory.begin();
    // Out of memory on Espruino throws nothing: the steps it cut short went on with `undefined`,
    // or never go on (see allocation-guard.ts); the watch hands over at a later timer tick, once
    // what they held is collected, or the failure's report runs out too.
    const stop = this.stopRun;
    const o = await this.memory.watch(() => this.steps(force, signal, at), () => stop && stop());
    let error = o.error === undefined ? null : toOtaError(o.error, at.stage);
    if (o.ranOut || this.memory.ranOut() || (error === null && o.value === undefined)) {
      if (error === null || error.code !== 'OUT_OF_MEMORY') error = outOfMemory(at.stage, error === null || error.code === 'STOPPED' ? 'at the ' + at.stage + ' stage' : error.message);
    }
    return error === null ? o.value! : this.failed(error, at);
  }

  /** The steps of one check, each a method below. */
  private async steps(force: boolean, signal: StopSignal, at: RunState): Promise<CheckResult> {
    this.emit('checking');
    this.platform.logger.log('INFO', 'Checking for updates');
    at.boot = await this.bootState();
    at.running = this.runningVersion(at.boot);
    const release = await this.protocol.check({ version: at.running });
    if (release === null) return this.noFirmware(at);
    const decision = decide(this.facts(at, release, release.sha256, force));
    if (decision.kind !== 'install') return await this.notInstalling(decision, release, at);
    if (release.consent) return this.awaitingConsent(release, release.consent, at);
    if (decision.downgrade) this.platform.logger.log('WARNING', 'Installing ' + release.version + ' over the newer ' + at.running + ': a signed, explicit downgrade allowed by allow_downgrade');
    at.offered = release.version;
    const ready = this.readyFor(release, at.boot);
    this.ready = null;
    let sized: SizedRelease;
    let sha256: string;
    if (ready !== null) {
      // Deferred before: no second boot-state write, "downloading" report or hashing.
      at.target = ready.slot;
      sized = Object.assign({}, release, { size: ready.size });
      sha256 = ready.sha256;
    } else {
      at.stage = 'install';
      sized = await this.prepare(release, at);
      at.stage = 'download';
      sha256 = await this.watched(signal, (s) => this.fetchInto(sized, at.target!, s, runningImage(at.boot)));
    }
    // Decided again: the image's hash is known now, and the application may have become busy.
    const after = decide(this.facts(at, release, sha256, force));
    if (after.kind !== 'install') return await this.notInstalling(after, release, at);
    if (after.hold !== null) {
      this.ready = { version: release.version, sha256, size: sized.size, slot: at.target! };
      return await this.deferred(release, after.hold, at);
    }
    at.stage = 'install';
    return this.install(sized, sha256, at);
  }

  /**
   * The server has nothing at the device's own address. Most often a wrong device_id or ota_domain
   * rather than a healthy device: a warning that names the address (IoTaaP OS's words first).
   */
  private noFirmware(at: RunState): CheckResult {
    const url = this.protocol.checkUrl;
    const where = url ? ' at ' + url + ' (HTTP 404)' : '';
    this.platform.logger.log('WARNING', 'No firmware available' + where + ': check "device_id" and "ota_domain" in the configuration, or publish a release for this device');
    const result: CheckResult = { status: 'no-firmware', version: at.running };
    if (url) result.url = url;
    return this.planned(result, 'done');
  }

  /** The deferred image, when `release` is still it and its slot was not touched since. */
  private readyFor(release: Release, boot: BootState): { version: string; sha256: string; size: number; slot: SlotName } | null {
    const r = this.ready;
    if (r === null || r.version !== release.version || (release.sha256 !== null && release.sha256 !== r.sha256)) return null;
    return boot.booted !== r.slot && boot.trial === null && boot.slots[r.slot] === null ? r : null;
  }

  private runningVersion(boot: BootState): string {
    const image = boot.slots[boot.booted];
    return image ? image.version : this.config.firmware_version;
  }

  /** The facts {@link decide} weighs, now. */
  private facts(at: RunState, release: Release, sha256: string | null, force: boolean) {
    const boot = at.boot!;
    const pending = boot.trial !== null && boot.trial !== boot.booted ? boot.slots[boot.trial] : null;
    const window = parseWindow(this.config.maintenance_window);
    return {
      running: at.running,
      offered: { version: release.version, sha256, downgrade: release.downgrade === true, signed: release.signed === true, overrideRejected: release.overrideRejected, installHold: release.installHold, rollout: release.rollout },
      deviceId: this.config.device_id,
      rejected: boot.rejected,
      pending,
      allowDowngrade: this.config.allow_downgrade,
      inhibitors: this.inhibitors,
      window: window === null ? null : { window, text: this.config.maintenance_window, minute: minuteOfDay(this.platform.clock.date()) },
      force,
    };
  }

  /** An offer that is not installed: up to date, refused, or already installed and waiting for its reboot. */
  private async notInstalling(decision: Exclude<Decision, { kind: 'install' }>, release: Release, at: RunState): Promise<CheckResult> {
    // if/else rather than a switch: the Espruino build's async lowering turns an awaiting switch into labels.
    const { logger } = this.platform;
    if (decision.kind === 'reboot-pending') {
      // Installed earlier but the reboot never happened: reboot now rather than download again.
      const slot = at.boot!.trial!;
      logger.log('INFO', 'Release ' + release.version + ' is already installed in slot ' + slot + '; rebooting into it');
      return this.rebootSoon({ slot, version: release.version, reason: 'update' }, at.running);
    }
    if (decision.kind === 'not-in-wave') {
      // Up to date as far as this device goes: the release is for other devices of the group for now.
      logger.log('INFO', 'Release ' + release.version + ' is rolling out to ' + release.rollout + ' % of the group; this device is not in the wave (running ' + at.running + ')');
      return this.planned({ status: 'up-to-date', version: at.running, latest: at.running }, 'done');
    }
    if (decision.kind === 'rejected') {
      at.stage = 'install';
      throw otaError('IMAGE_REJECTED', 'install', 'release ' + release.version + ' failed its trial on this device before and will not be installed again (unless published with override_rejected)');
    }
    await this.decline(release, at.running);
    if (decision.kind === 'downgrade-refused') {
      throw otaError('DOWNGRADE_REFUSED', 'check', 'the server offers ' + release.version + ', older than the running ' + at.running + ': refused (a downgrade needs a signed downgrade manifest and "allow_downgrade": true)');
    }
    logger.log('INFO', 'No new updates (running ' + at.running + ', latest ' + release.version + ')');
    this.emit('up-to-date', { version: at.running, latest: release.version });
    return this.planned({ status: 'up-to-date', version: at.running, latest: release.version }, 'done');
  }

  /**
   * Before the first byte: the transport is acceptable, the size known and within the slot, the
   * target slot marked as no longer bootable, and the server told.
   */
  private async prepare(release: Release, at: RunState): Promise<SizedRelease> {
    if (isPlainRemote(release.url) && !this.config.allow_http) {
      throw otaError('INSECURE_TRANSPORT', 'check', 'release ' + release.version + ' would be downloaded over plain HTTP from another machine (' + release.url + '); set "allow_http": true to accept the risk');
    }
    const target = updateTarget(at.boot!);
    const sized: SizedRelease =
      release.size === null
        ? Object.assign({}, release, { size: await probeSize(this.platform.transport, release.url, this.protocol.downloadHeaders(release.url), this.config.download_timeout * 1000) })
        : (release as SizedRelease);
    if (release.format === 'tar' && !this.platform.slots.prepare) {
      throw otaError('IMAGE_INVALID', 'install', 'release ' + release.version + ' is a bundle (a directory as a tar archive), which these slots cannot hold');
    }
    const capacity = this.platform.slots.capacity(target);
    if (capacity !== undefined && sized.size > capacity) {
      throw otaError('IMAGE_TOO_LARGE', 'install', 'release ' + release.version + ' is ' + sized.size + ' bytes but slot ' + target + ' holds ' + capacity);
    }
    const { logger } = this.platform;
    logger.log('INFO', 'New update available! ' + at.running + ' -> ' + release.version);
    this.updating = true;
    this.emit('update-available', { version: release.version, current: at.running, size: sized.size });
    logger.log('INFO', 'Starting update process...');
    at.target = target;
    at.boot = await this.save(beginWrite(at.boot!, target));
    await this.send({ stage: 'downloading', version: release.version, from: at.running });
    return sized;
  }

  /**
   * Downloads `release` into `target` (as a patch from the `running` image or gzip-compressed
   * when published so) and verifies it: chunk CRCs and SHA-256 where published, the image format
   * checked. Resolves to the image's SHA-256.
   */
  private async fetchInto(release: SizedRelease, target: SlotName, signal: StopSignal, running: RunningImage | null): Promise<string> {
    const { logger } = this.platform;
    logger.log('INFO', 'Downloading ' + release.size + ' bytes into slot ' + target + ' (chunks of ' + release.chunkSize + ')');
    const logProgress = progressLog((line) => logger.log('INFO', line), () => this.platform.clock.now());
    const sha256 = await fetchImage(this.platform, {
      release,
      slot: target,
      headers: this.protocol.downloadHeaders(release.url),
      idleTimeoutMs: this.config.download_timeout * 1000,
      retry: { retries: this.config.download_retries, baseDelayMs: this.config.download_retry_delay * 1000 },
      minRate: { bytesPerSecond: this.config.download_min_rate, windowMs: this.config.download_rate_window * 1000 },
      signal,
      onProgress: (p) => {
        logProgress(p.received, p.total, p.bytesPerSecond);
        this.emit('download-progress', p);
        if (this.protocol.progress) this.protocol.progress(p.received, p.total);
      },
    }, running);
    const digest = release.digest ? await this.checkDigest(target, release, release.digest) : '';
    // A download cut short by running out of memory resolves with nothing to show for it.
    if (this.memory.ranOut() || typeof sha256 !== 'string') throw outOfMemory('download', 'downloading into slot ' + target);
    const checked = await this.checkFormat(target, release);
    logger.log('INFO', 'Image verified: ' + (digest || 'SHA-256 ' + sha256 + (release.sha256 === null ? ' (computed; the server published none)' : '')) + checked);
    this.emit('verified', { version: release.version, sha256, slot: target });
    return sha256;
  }

  /**
   * Checks the image against the SHA-1 or MD5 a server publishes instead of a SHA-256 (older
   * hawkBit): read back from the slot. Returns what verified it, for the log.
   */
  private async checkDigest(slot: SlotName, release: SizedRelease, digest: { algorithm: 'sha1' | 'md5'; hex: string }): Promise<string> {
    const name = digest.algorithm === 'sha1' ? 'SHA-1' : 'MD5';
    if (!this.platform.digest) {
      throw otaError('DIGEST_MISMATCH', 'verify', 'release ' + release.version + ' is published with ' + name + ' only, which this platform cannot compute');
    }
    const actual = await hashSlot(this.platform.slots, slot, release.size, this.platform.digest(digest.algorithm));
    if (actual !== digest.hex) {
      await discardJournal(this.platform.state);
      throw otaError('DIGEST_MISMATCH', 'verify', 'downloaded image has ' + name + ' ' + actual + ' but the server announced ' + digest.hex, { retryable: true });
    }
    return name + ' ' + actual + ' (the server published no SHA-256)';
  }

  /**
   * Validates the image format before the switch: always when `image_format` says so; and, when
   * the server published no hash, an image that looks like an ESP32 one is checked by its own
   * appended SHA-256. Returns what was checked, for the log.
   */
  private async checkFormat(slot: SlotName, release: SizedRelease): Promise<string> {
    const slots = this.platform.slots;
    const looksEsp32 = release.sha256 === null && !release.digest && (await slots.read(slot, 0, 1))[0] === ESP32_MAGIC;
    if (this.config.image_format === 'esp32' || looksEsp32) {
      await validateEsp32Image((offset, length) => slots.read(slot, offset, length), release.size, this.platform.sha256(), slots.readSize);
      return ', valid esp32 image';
    }
    if (release.sha256 === null && !release.digest) {
      this.platform.logger.log('WARNING', 'Release ' + release.version + ' comes with no checksum and is not an image that carries its own: installed on the strength of its size alone');
    }
    return '';
  }

  /** Downloaded and verified, but installing waits: the server is told (hawkBit's `downloaded`). */
  private async deferred(release: Release, hold: Hold, at: RunState): Promise<CheckResult> {
    this.platform.logger.log('INFO', 'Update ' + release.version + ' is downloaded and verified; installing it waits: ' + hold.reason);
    await this.send({ stage: 'downloaded', version: release.version, from: at.running, reason: hold.reason });
    return this.planned({ status: 'deferred', version: at.running, latest: release.version, reason: hold.reason }, 'soon', hold.waitMs);
  }

  /** The server waits for the user's consent: nothing is downloaded until it is given. */
  private awaitingConsent(release: Release, consent: { action: string; denied: boolean }, at: RunState): CheckResult {
    const reason = consent.denied
      ? 'the user denied consent to this update (hawkBit action ' + consent.action + ')'
      : 'waiting for the user\'s consent (hawkBit action ' + consent.action + '): call updater.consent(true) or run `ota consent yes`';
    this.platform.logger.log('INFO', 'Update ' + release.version + ' available; ' + reason);
    this.emit('consent-required', { version: release.version, current: at.running, action: consent.action, denied: consent.denied });
    return this.planned({ status: 'deferred', version: at.running, latest: release.version, reason }, 'done');
  }

  /**
   * Runs a download while the protocol watches for the server withdrawing the release (hawkBit's
   * cancel): then the download stops, as for {@link Updater.stop}, and the run ends `STOPPED`.
   */
  private async watched<T>(signal: StopSignal, work: (signal: StopSignal) => Promise<T>): Promise<T> {
    if (!this.protocol.watch) return work(signal);
    const inner = stopController();
    let why: string | null = null;
    const relay = () => inner.stop();
    signal.addEventListener('abort', relay);
    const unwatch = this.protocol.watch((reason) => {
      why = reason;
      inner.stop();
    });
    try {
      return await work(inner.signal);
    } catch (e) {
      throw why !== null ? otaError('STOPPED', 'download', why) : e;
    } finally {
      unwatch();
      signal.removeEventListener('abort', relay);
    }
  }

  /** Marks the verified slot for a trial boot, reports, and reboots into it. */
  private async install(release: SizedRelease, sha256: string, at: RunState): Promise<CheckResult> {
    const target = at.target!;
    // A bundle is unpacked (a plain image clears an old bundle's directory) before the switch.
    if (this.platform.slots.prepare) await this.platform.slots.prepare(target, release.format);
    const image: SlotImage = { version: release.version, sha256, size: release.size };
    const bootId = this.platform.systemBootId ? this.platform.systemBootId() : null;
    if (bootId !== null) image.system_boot_id = bootId;
    at.boot = await this.save(markInstalled(at.boot!, target, image, this.config.boot_attempts));
    await discardJournal(this.platform.state);
    await discardStaged(this.platform, target);
    this.emit('installed', { version: release.version, slot: target });
    this.platform.logger.log('INFO', 'Update successful! ' + release.version + ' installed in slot ' + target + '; it boots on trial next');
    await this.send({ stage: 'installed', version: release.version, from: at.running });
    return this.rebootSoon({ slot: target, version: release.version, reason: 'update' }, at.running);
  }

  /** A failed run: logged, reported when a slot was being written, and the next try planned. */
  private async failed(unmasked: OtaError, at: RunState): Promise<CheckResult> {
    const { logger } = this.platform;
    const error = maskedError(unmasked, this.mask);
    const untouched = at.boot ? 'the running firmware ' + at.running + ' (slot ' + at.boot.booted + ') is untouched' : 'nothing was changed';
    const delay = this.planNext(this.scheduler.reschedule(error.retryable ? 'retry' : 'done', error.retryAfterMs));
    const next =
      delay === null
        ? error.retryable
          ? 'call checkForUpdates() to retry'
          : 'retrying will not help until the server or the configuration changes'
        : (error.retryable ? 'next try in ' : 'not retried before the next regular check, in ') + formatDuration(delay);
    const message = error.message + '; ' + untouched + '; ' + next;
    if (error.code === 'STOPPED') {
      // Asked for: not a failure to report, and the journal resumes it.
      logger.log('INFO', 'Update stopped: ' + message);
      return { status: 'failed', error, message };
    }
    logger.log('ERROR', (error.stage === 'check' ? 'Cannot check for updates: ' : 'Update failed with error (' + error.code + '): ') + message);
    if (at.target !== null) await this.send({ stage: 'failed', version: at.offered, from: at.running, reason: error.message, code: error.code });
    this.emit('error', error);
    return { status: 'failed', error, message };
  }

  /** Plans the next automatic check after a run (when the scheduler runs) and passes the result on. */
  private planned<R extends CheckResult>(result: R, outcome: RunOutcome, hintMs?: number | null): R {
    const suggested = this.protocol.suggestedIntervalMs ? this.protocol.suggestedIntervalMs() : null;
    this.planNext(this.scheduler.reschedule(outcome, hintMs ?? suggested));
    return result;
  }

  /** Notes when the next automatic check is due (`delay` from the scheduler; null: none planned). */
  private planNext(delay: number | null): number | null {
    this.nextCheckAt = delay === null ? null : this.platform.clock.date() + delay;
    return delay;
  }

  /** Tells the protocol that an offered release is not installed (hawkBit closes its action). */
  private async decline(release: Release, running: string): Promise<void> {
    if (!this.protocol.declined) return;
    try {
      await this.protocol.declined(release, running);
    } catch (e) {
      this.platform.logger.log('WARNING', 'Could not tell the server: ' + toOtaError(e, 'report').message);
    }
  }

  /** Sends a status report about `s`'s trial (or running) image; failures are only logged. */
  private async report(s: BootState, report: Omit<StatusReport, 'version'> & { version?: string }): Promise<void> {
    const slot = s.trial ?? s.booted;
    const image = s.slots[slot];
    const confirmed = s.slots[s.confirmed];
    const full: StatusReport = Object.assign({ version: image ? image.version : '' }, report);
    if (confirmed && slot !== s.confirmed && full.from === undefined) full.from = confirmed.version;
    await this.send(full);
  }

  /** Sends a status report; a failure to send is only logged. */
  private async send(report: StatusReport): Promise<void> {
    try {
      // Bounded where a lost callback could leave it pending: a report never holds up a result.
      await this.memory.within(this.protocol.report(report), REPORT_MS, 'the report');
    } catch (e) {
      this.platform.logger.log('WARNING', 'Could not report "' + report.stage + '" to the server: ' + toOtaError(e, 'report').message);
    }
  }

  /** The result of an installed update; {@link finish} reboots into it. */
  private rebootSoon(request: RebootRequest, from: string): CheckResult {
    return { status: 'updated', version: request.version, from, slot: request.slot, rebooting: true };
  }

  /** The end of a run: recorded, and an update's reboot started once the caller has had the result. */
  private async finish(r: CheckResult): Promise<CheckResult> {
    await this.record(r);
    if (r.status === 'updated') {
      const request: RebootRequest = { slot: r.slot, version: r.version, reason: 'update' };
      this.platform.clock.setTimer(() => {
        // A reboot that failed is tried again by the next check (the slot waits for its trial).
        this.reboot(request).catch((e) => {
          const delay = this.planNext(this.scheduler.reschedule('retry'));
          this.platform.logger.log('ERROR', 'Reboot failed: ' + toOtaError(e, 'boot').message + (delay === null ? '' : '; trying again with the next check, in ' + formatDuration(delay)));
        });
      }, 0);
    }
    return r;
  }

  private async reboot(request: RebootRequest): Promise<void> {
    this.emit('rebooting', request);
    this.platform.logger.log('INFO', 'Rebooting into slot ' + request.slot + ' (' + request.version + ')');
    if (this.platform.logger.flush) await this.platform.logger.flush();
    await this.platform.reboot(request);
  }
}

/** The image running now, the base a delta patch must match; null when its hash is unknown. */
function runningImage(boot: BootState | null): RunningImage | null {
  const image = boot === null ? null : boot.slots[boot.booted];
  return boot !== null && image && image.sha256 !== '' ? { slot: boot.booted, sha256: image.sha256, size: image.size } : null;
}
