/**
 * The updater: the public face of the pipeline. It owns the scheduler and the remote trigger, runs
 * checks (`check-run.ts`: check → decide → download → verify → install) one at a time, reboots
 * after an install, and runs the boot-control steps (trial, confirm, revert) at boot.
 */
import { EventEmitter } from 'eventemitter3';
import { bootFromLoader, bootSelect, confirmBooted, confirmNeedsHash, rejectTrial, rollBack, type BootState, type DeviceStatus } from '../boot/boot-state.js';
import type { Protocol, StatusReport } from '../check/protocol.js';
import { protocolFor } from '../check/select.js';
import { giveConsent } from '../check/consent.js';
import { SECRET_KEYS, type OtaConfig } from '../config/config.js';
import { formatDuration } from '../config/durations.js';
import { otaError, toOtaError } from '../errors.js';
import { hashSlot } from '../install/slots.js';
import { masker, redacting } from '../log/redact.js';
import type { LogLevel, Platform, RebootRequest } from '../platform/interfaces.js';
import { Scheduler } from '../schedule/scheduler.js';
import { stopController } from './stop-controller.js';
import { allocationGuard } from './allocation-guard.js';
import { previewCheck, runCheck } from './check-run.js';
import type { CheckOptions, CheckPreview, CheckResult, UpdaterEvents } from './results.js';
import { deviceStatus, type UpdaterStatus } from './status.js';
import { loadBoot, planNext, saveBoot, send, type UpdaterCore } from './updater-core.js';

export type { CheckOptions, CheckPreview, CheckResult, UpdaterEvents } from './results.js';

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

/**
 * Keeps one device's firmware up to date. Create it with `createUpdater()`.
 */
export class Updater extends EventEmitter<UpdaterEvents> {
  /** What the updater's parts share (updater-core.ts). */
  private readonly core: UpdaterCore;
  private running: Promise<CheckResult> | null = null;
  /** Stops the running check's download. */
  private stopRun: (() => void) | null = null;
  /** True while a remote trigger's check runs: it answers its own codes. */
  private triggered = false;

  constructor(options: UpdaterOptions) {
    super();
    const c = options.config;
    const memory = allocationGuard(options.platform);
    // Secrets never reach the log, whoever writes it, nor the results and errors handed out; no
    // state is written after running out of memory.
    const mask = masker(SECRET_KEYS.map((k) => String(c[k as keyof OtaConfig])));
    const platform: Platform = Object.assign({}, options.platform, { logger: redacting(options.platform.logger, mask), state: memory.state });
    const scheduler = new Scheduler({
      clock: platform.clock,
      random: platform.random,
      firstDelayMs: c.first_check_delay * 1000,
      intervalMs: c.check_interval * 1000,
      jitter: c.check_jitter,
      retryBaseMs: c.retry_delay * 1000,
      minIntervalMs: c.min_check_interval * 1000,
      maxIntervalMs: c.max_check_interval * 1000,
      honourServer: c.server_interval,
      run: () => this.checkForUpdates(),
    });
    this.core = {
      config: c,
      platform,
      protocol: options.protocol ?? protocolFor(c, platform),
      memory,
      mask,
      scheduler,
      inhibitors: [],
      ready: null,
      updating: false,
      nextCheckAt: null,
      emit: this.emit.bind(this) as UpdaterCore['emit'],
    };
  }

  /**
   * Asks the server for the latest version and, when it is newer than the running one, downloads,
   * verifies and installs it, then reboots into it on trial. Concurrent calls share one run.
   */
  checkForUpdates(options: CheckOptions = {}): Promise<CheckResult> {
    const result = this.runOnce(options);
    const trigger = this.core.platform.trigger;
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
        this.core.updating = false;
      };
      this.stopRun = stopper.stop;
      this.running = runCheck(this.core, options.force === true, stopper).then((r) => this.finish(r));
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
    if (this.core.platform.trigger) this.core.platform.trigger.start((respond) => this.onTrigger(respond));
    if (!this.core.config.auto_update) {
      this.core.platform.logger.log('INFO', 'Automatic updates are off (auto_update: false); manual checks and remote triggers still work');
      return;
    }
    this.core.scheduler.start();
    this.core.nextCheckAt = this.core.platform.clock.date() + this.core.config.first_check_delay * 1000;
  }

  /**
   * What a check would do now: asks the server and decides, but downloads, writes and reports
   * nothing (`ota device check`).
   */
  check(): Promise<CheckPreview> {
    return previewCheck(this.core);
  }


  /**
   * Stops automatic checks and remote triggers. A download under way stops at the next chunk
   * boundary, its verified bytes kept for the next start; resolves once the check has ended.
   */
  async stop(): Promise<void> {
    this.core.scheduler.stop();
    this.core.nextCheckAt = null;
    if (this.stopRun) this.stopRun();
    if (this.core.platform.trigger) await this.core.platform.trigger.stop();
    if (this.running) await this.running;
  }

  /**
   * Defers installs while the application is busy (`reason` says with what): updates are still
   * downloaded and verified, then wait. Returns the function that lifts this inhibitor.
   */
  inhibit(reason: string): () => void {
    const token = reason + '';
    this.core.inhibitors.push(token);
    return () => {
      const i = this.core.inhibitors.indexOf(token);
      if (i >= 0) this.core.inhibitors.splice(i, 1);
    };
  }

  /**
   * Gives (true) or denies (false) consent to the update that waits for it (the
   * `consent-required` event), then checks at once. The answer is kept in the state store, so
   * one given before the server asks applies to the next update that needs it.
   */
  async consent(yes: boolean): Promise<CheckResult> {
    await giveConsent(this.core.platform.state, yes);
    this.core.platform.logger.log('INFO', 'Consent to the waiting update ' + (yes ? 'given' : 'denied'));
    return this.checkForUpdates();
  }

  /** A remote "update now": answered 200 at once, 201 when an update starts, 202 when up to date, 203 otherwise. */
  private async onTrigger(respond: (code: number) => void): Promise<void> {
    this.core.platform.logger.log('INFO', 'Update requested remotely');
    respond(TRIGGER_CODES.received);
    // An update already under way (a scheduled check downloading) is this request's answer too.
    let updating = this.running !== null && this.core.updating;
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
    return deviceStatus(this.core.platform.state, await loadBoot(this.core));
  }

  /**
   * The boot step, run once when the device starts: starts or retries a pending trial, or brings
   * the previous slot back when the trial used all its attempts. Where the boot loader chooses
   * the slot (U-Boot, GRUB), what it booted decides: a trial slot that did not come up counts a
   * failed attempt and is never recorded as running.
   */
  async boot(): Promise<DeviceStatus> {
    this.core.memory.begin();
    const before = await loadBoot(this.core);
    const selector = this.core.platform.bootSelector;
    const view = selector.booted ? await selector.booted() : null;
    if (view !== null && before.trial !== null && view.slot !== before.trial) {
      this.core.platform.logger.log('WARNING', 'Slot ' + before.trial + ' was to boot on trial but the boot loader booted slot ' + view.slot);
    }
    const after = await saveBoot(this.core, view === null ? bootSelect(before) : bootFromLoader(before, view));
    if (before.trial !== null && after.trial === null && after.state === 'reverted') {
      this.core.platform.logger.log('ERROR', 'Update reverted: ' + after.last_error);
      await this.report(before, { stage: 'failed', reason: after.last_error, code: 'BOOT_STATE', reverted: true });
    }
    if (after.trial === null && after.booted !== after.confirmed) {
      // The boot loader's environment was behind (a cut before it was written): it is now, so boot what it says.
      const image = after.slots[after.confirmed];
      this.core.platform.logger.log('WARNING', 'The boot loader booted slot ' + after.booted + ' but slot ' + after.confirmed + ' is the one to run');
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
    this.core.memory.begin();
    const before = await loadBoot(this.core);
    if (before.state === 'confirmed' && before.booted === before.confirmed && before.trial === null) return;
    const image = before.slots[before.booted];
    const view = this.core.platform.bootSelector.booted ? await this.core.platform.bootSelector.booted() : null;
    if (view !== null && view.slot !== before.booted) {
      throw otaError('BOOT_STATE', 'boot', 'nothing to confirm: slot ' + before.booted + ' is recorded on trial but the boot loader booted slot ' + view.slot);
    }
    if (image !== null && image.sha256 !== '' && before.state === 'trial') {
      const again = confirmNeedsHash(image, this.core.platform.systemBootId ? this.core.platform.systemBootId() : null);
      this.core.platform.logger.log('DEBUG', 'Slot ' + before.booted + (again ? ' hashed again: the system restarted since it was written, or cannot tell' : ' not hashed again: written and verified in this system boot'));
      const actual = again ? await hashSlot(this.core.platform.slots, before.booted, image.size, this.core.platform.sha256()) : image.sha256;
      if (actual !== image.sha256) {
        throw otaError('BOOT_STATE', 'boot', 'slot ' + before.booted + ' does not hold the image installed there (' + image.version + ': SHA-256 ' + actual + ', expected ' + image.sha256 + '); not confirmed');
      }
    }
    const s = await saveBoot(this.core, confirmBooted(before));
    this.core.platform.logger.log('INFO', 'Slot ' + s.booted + ' (' + (image ? image.version : '?') + ') confirmed');
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
    this.core.memory.begin();
    const before = await loadBoot(this.core);
    const s = await saveBoot(this.core, transition(before, reason));
    this.core.platform.logger.log(level, what + reason);
    await this.report(before, { stage: 'failed', reason, code: 'HEALTH_CHECK', reverted: true });
    const image = s.slots[s.confirmed];
    await this.reboot({ slot: s.confirmed, version: image ? image.version : '', reason: 'revert' });
  }

  /** Sends a status report about `s`'s trial (or running) image; failures are only logged. */
  private async report(s: BootState, report: Omit<StatusReport, 'version'> & { version?: string }): Promise<void> {
    const slot = s.trial ?? s.booted;
    const image = s.slots[slot];
    const confirmed = s.slots[s.confirmed];
    const full: StatusReport = Object.assign({ version: image ? image.version : '' }, report);
    if (confirmed && slot !== s.confirmed && full.from === undefined) full.from = confirmed.version;
    await send(this.core, full);
  }

  /** The end of a check (recorded by runCheck): an update's reboot starts once the caller has had the result. */
  private finish(r: CheckResult): CheckResult {
    if (r.status === 'updated') {
      const request: RebootRequest = { slot: r.slot, version: r.version, reason: 'update' };
      this.core.platform.clock.setTimer(() => {
        // A reboot that failed is tried again by the next check (the slot waits for its trial).
        this.reboot(request).catch((e) => {
          const delay = planNext(this.core, this.core.scheduler.reschedule('retry'));
          this.core.platform.logger.log('ERROR', 'Reboot failed: ' + toOtaError(e, 'boot').message + (delay === null ? '; the next check or trigger tries again (no automatic check is planned)' : '; trying again with the next check, in ' + formatDuration(delay)));
        });
      }, 0);
    }
    return r;
  }

  private async reboot(request: RebootRequest): Promise<void> {
    this.emit('rebooting', request);
    this.core.platform.logger.log('INFO', 'Rebooting into slot ' + request.slot + ' (' + request.version + ')');
    if (this.core.platform.logger.flush) await this.core.platform.logger.flush();
    await this.core.platform.reboot(request);
  }
}
