/**
 * One check, as a sequence of named steps: boot state → running version → `protocol.check` →
 * `decide` → `prepare` (transport guard, size, capacity, begin write) → `fetchInto` (download,
 * verify, format) → `decide` again → `install` or `deferred`. Any failure becomes `failed()`: a
 * result that says what failed and what happens next. The Espruino build loads this part only
 * while a check runs (docs/espruino.md).
 */
import { beginWrite, markInstalled, updateTarget, type BootState, type SlotImage } from '../boot/boot-state.js';
import type { Release, SizedRelease } from '../check/release.js';
import { formatDuration } from '../config/durations.js';
import { isPlainRemote } from '../config/url-policy.js';
import { discardJournal } from '../download/journal.js';
import { checkDigest } from '../download/legacy-digest.js';
import { probeSize } from '../download/size-probe.js';
import { discardStaged, fetchImage, type RunningImage } from '../download/transfers.js';
import { otaError, toOtaError, type OtaError, type OtaStage } from '../errors.js';
import { ESP32_MAGIC, validateEsp32Image } from '../install/esp32-image.js';
import type { SlotName } from '../install/slots.js';
import { progressLog } from '../log/progress-log.js';
import { maskedError } from '../log/redact.js';
import type { RebootRequest, StopSignal } from '../platform/interfaces.js';
import { minuteOfDay, parseWindow } from '../schedule/maintenance-window.js';
import type { RunOutcome } from '../schedule/scheduler.js';
import { outOfMemory } from './allocation-guard.js';
import { watched } from './cancel-watch.js';
import { recordCheck } from './check-record.js';
import { awaitingConsent } from './consent-wait.js';
import { decide, type Decision, type Hold, type OfferFacts } from './decide.js';
import type { CheckPreview, CheckResult } from './results.js';
import { loadBoot, planNext, saveBoot, send, type ReadyImage, type UpdaterCore } from './updater-core.js';

/** Where a check is, for the message of a failure. */
interface RunState {
  stage: OtaStage;
  boot: BootState | null;
  running: string;
  /** The slot being written, once a write began. */
  target: SlotName | null;
  offered: string;
}

/**
 * One check (`force`: install even outside the maintenance window; `stopper` stops its download);
 * never rejects. The result is recorded.
 */
export async function runCheck(core: UpdaterCore, force: boolean, stopper: { signal: StopSignal; stop: () => void }): Promise<CheckResult> {
  const r = await run(core, force, stopper);
  await recordCheck(core.platform.state, core.platform.logger, core.platform.clock.date(), r, core.nextCheckAt);
  return r;
}

/** What a check would do now: asks the server and decides, but downloads, writes and reports nothing. */
export async function previewCheck(core: UpdaterCore): Promise<CheckPreview> {
  const at = startState(core);
  const offered = await askServer(core, at);
  const preview: CheckPreview = { version: at.running, offered, decision: offered === null ? null : decide(facts(core, at, offered, offered.sha256, false)) };
  if (core.protocol.checkUrl) preview.url = core.protocol.checkUrl;
  return preview;
}

/** The steps; a failure becomes a result. */
async function run(core: UpdaterCore, force: boolean, stopper: { signal: StopSignal; stop: () => void }): Promise<CheckResult> {
  const at = startState(core);
  core.memory.begin(at);
  // Out of memory on Espruino throws nothing: the steps it cut short went on with `undefined`,
  // or never go on (see allocation-guard.ts); the watch hands over at a later timer tick, once
  // what they held is collected, or the failure's report runs out too.
  const o = await core.memory.watch(() => steps(core, force, stopper.signal, at), stopper.stop);
  let error = o.error === undefined ? null : toOtaError(o.error, at.stage);
  if (o.ranOut || core.memory.ranOut() || (error === null && o.value === undefined)) {
    if (error === null || error.code !== 'OUT_OF_MEMORY') error = outOfMemory(at.stage, error === null || error.code === 'STOPPED' ? 'at the ' + at.stage + ' stage' : error.message);
  }
  return error === null ? o.value! : failed(core, error, at);
}

/** Where a check (or its preview) is before its first step. */
function startState(core: UpdaterCore): RunState {
  return { stage: 'check', boot: null, running: core.config.firmware_version, target: null, offered: '' };
}

/** The first steps of a check and of its preview: boot state, running version, the server's offer. */
async function askServer(core: UpdaterCore, at: RunState): Promise<Release | null> {
  at.boot = await loadBoot(core);
  at.running = runningVersion(core, at.boot);
  return core.protocol.check({ version: at.running });
}

/** The steps of one check, each a function below. */
async function steps(core: UpdaterCore, force: boolean, signal: StopSignal, at: RunState): Promise<CheckResult> {
  const { logger } = core.platform;
  core.emit('checking');
  logger.log('INFO', 'Checking for updates');
  const release = await askServer(core, at);
  if (release === null) return noFirmware(core, at);
  const decision = decide(facts(core, at, release, release.sha256, force));
  if (decision.kind !== 'install') return await notInstalling(core, decision, release, at);
  if (release.consent) return planned(core, awaitingConsent(core, release, release.consent, at.running), 'done');
  if (decision.downgrade) logger.log('WARNING', 'Installing ' + release.version + ' over the newer ' + at.running + ': a signed, explicit downgrade allowed by allow_downgrade');
  at.offered = release.version;
  const ready = readyFor(core.ready, release, at.boot!);
  core.ready = null;
  let sized: SizedRelease;
  let sha256: string;
  if (ready !== null) {
    // Deferred before: no second boot-state write, "downloading" report or hashing.
    at.target = ready.slot;
    sized = Object.assign({}, release, { size: ready.size });
    sha256 = ready.sha256;
  } else {
    at.stage = 'install';
    sized = await prepare(core, release, at);
    at.stage = 'download';
    sha256 = await watched(core.protocol, signal, (s) => fetchInto(core, sized, at.target!, s, runningImage(at.boot)));
  }
  // Decided again: the image's hash is known now, and the application may have become busy.
  const after = decide(facts(core, at, release, sha256, force));
  if (after.kind !== 'install') return await notInstalling(core, after, release, at);
  if (after.hold !== null) {
    core.ready = { version: release.version, sha256, size: sized.size, slot: at.target! };
    return await deferred(core, release, after.hold, at);
  }
  at.stage = 'install';
  return install(core, sized, sha256, at);
}

/**
 * The server has nothing at the device's own address. Most often a wrong device_id or ota_domain
 * rather than a healthy device: a warning that names the address (IoTaaP OS's words first).
 */
function noFirmware(core: UpdaterCore, at: RunState): CheckResult {
  const url = core.protocol.checkUrl;
  const where = url ? ' at ' + url + ' (HTTP 404)' : '';
  core.platform.logger.log('WARNING', 'No firmware available' + where + ': check "device_id" and "ota_domain" in the configuration, or publish a release for this device');
  const result: CheckResult = { status: 'no-firmware', version: at.running };
  if (url) result.url = url;
  return planned(core, result, 'done');
}

/** The deferred image `r`, when `release` is still it and its slot was not touched since. */
function readyFor(r: ReadyImage | null, release: Release, boot: BootState): ReadyImage | null {
  if (r === null || r.version !== release.version || (release.sha256 !== null && release.sha256 !== r.sha256)) return null;
  return boot.booted !== r.slot && boot.trial === null && boot.slots[r.slot] === null ? r : null;
}

function runningVersion(core: UpdaterCore, boot: BootState): string {
  const image = boot.slots[boot.booted];
  return image ? image.version : core.config.firmware_version;
}

/** The facts {@link decide} weighs, now. */
function facts(core: UpdaterCore, at: RunState, release: Release, sha256: string | null, force: boolean): OfferFacts {
  const boot = at.boot!;
  const c = core.config;
  const pending = boot.trial !== null && boot.trial !== boot.booted ? boot.slots[boot.trial] : null;
  const window = parseWindow(c.maintenance_window);
  return {
    running: at.running,
    offered: { version: release.version, sha256, downgrade: release.downgrade === true, signed: release.signed === true, overrideRejected: release.overrideRejected, installHold: release.installHold, rollout: release.rollout },
    deviceId: c.device_id,
    rejected: boot.rejected,
    pending,
    allowDowngrade: c.allow_downgrade,
    inhibitors: core.inhibitors,
    window: window === null ? null : { window, text: c.maintenance_window, minute: minuteOfDay(core.platform.clock.date()) },
    force,
  };
}

/** An offer that is not installed: up to date, refused, or already installed and waiting for its reboot. */
async function notInstalling(core: UpdaterCore, decision: Exclude<Decision, { kind: 'install' }>, release: Release, at: RunState): Promise<CheckResult> {
  // if/else rather than a switch: the Espruino build's async lowering turns an awaiting switch into labels.
  const { logger } = core.platform;
  if (decision.kind === 'reboot-pending') {
    // Installed earlier but the reboot never happened: reboot now rather than download again.
    const slot = at.boot!.trial!;
    logger.log('INFO', 'Release ' + release.version + ' is already installed in slot ' + slot + '; rebooting into it');
    return rebootSoon({ slot, version: release.version, reason: 'update' }, at.running);
  }
  if (decision.kind === 'not-in-wave') {
    // Up to date as far as this device goes: the release is for other devices of the group for now.
    logger.log('INFO', 'Release ' + release.version + ' is rolling out to ' + release.rollout + ' % of the group; this device is not in the wave (running ' + at.running + ')');
    return planned(core, { status: 'up-to-date', version: at.running, latest: at.running }, 'done');
  }
  if (decision.kind === 'rejected') {
    at.stage = 'install';
    throw otaError('IMAGE_REJECTED', 'install', 'release ' + release.version + ' failed its trial on this device before and will not be installed again (unless published with override_rejected)');
  }
  await decline(core, release, at.running);
  if (decision.kind === 'downgrade-refused') {
    throw otaError('DOWNGRADE_REFUSED', 'check', 'the server offers ' + release.version + ', older than the running ' + at.running + ': refused (a downgrade needs a signed downgrade manifest and "allow_downgrade": true)');
  }
  logger.log('INFO', 'No new updates (running ' + at.running + ', latest ' + release.version + ')');
  core.emit('up-to-date', { version: at.running, latest: release.version });
  return planned(core, { status: 'up-to-date', version: at.running, latest: release.version }, 'done');
}

/**
 * Before the first byte: the transport is acceptable, the size known and within the slot, the
 * target slot marked as no longer bootable, and the server told.
 */
async function prepare(core: UpdaterCore, release: Release, at: RunState): Promise<SizedRelease> {
  const { platform, config } = core;
  if (isPlainRemote(release.url) && !config.allow_http) {
    throw otaError('INSECURE_TRANSPORT', 'check', 'release ' + release.version + ' would be downloaded over plain HTTP from another machine (' + release.url + '); set "allow_http": true to accept the risk');
  }
  const target = updateTarget(at.boot!);
  const sized: SizedRelease =
    release.size === null
      ? Object.assign({}, release, { size: await probeSize(platform.transport, release.url, core.protocol.downloadHeaders(release.url), config.download_timeout * 1000) })
      : (release as SizedRelease);
  if (release.format === 'tar' && !platform.slots.prepare) {
    throw otaError('IMAGE_INVALID', 'install', 'release ' + release.version + ' is a bundle (a directory as a tar archive), which these slots cannot hold');
  }
  const capacity = platform.slots.capacity(target);
  if (capacity !== undefined && sized.size > capacity) {
    throw otaError('IMAGE_TOO_LARGE', 'install', 'release ' + release.version + ' is ' + sized.size + ' bytes but slot ' + target + ' holds ' + capacity);
  }
  const { logger } = platform;
  logger.log('INFO', 'New update available! ' + at.running + ' -> ' + release.version);
  core.updating = true;
  core.emit('update-available', { version: release.version, current: at.running, size: sized.size });
  logger.log('INFO', 'Starting update process...');
  at.target = target;
  at.boot = await saveBoot(core, beginWrite(at.boot!, target));
  await send(core, { stage: 'downloading', version: release.version, from: at.running });
  return sized;
}

/**
 * Downloads `release` into `target` (as a patch from the `running` image or gzip-compressed
 * when published so) and verifies it: chunk CRCs and SHA-256 where published, the image format
 * checked. Resolves to the image's SHA-256.
 */
async function fetchInto(core: UpdaterCore, release: SizedRelease, target: SlotName, signal: StopSignal, running: RunningImage | null): Promise<string> {
  const { platform, config, protocol } = core;
  const { logger } = platform;
  logger.log('INFO', 'Downloading ' + release.size + ' bytes into slot ' + target + ' (chunks of ' + release.chunkSize + ')');
  const logProgress = progressLog((line) => logger.log('INFO', line), () => platform.clock.now());
  const sha256 = await fetchImage(platform, {
    release,
    slot: target,
    headers: protocol.downloadHeaders(release.url),
    idleTimeoutMs: config.download_timeout * 1000,
    retry: { retries: config.download_retries, baseDelayMs: config.download_retry_delay * 1000 },
    minRate: { bytesPerSecond: config.download_min_rate, windowMs: config.download_rate_window * 1000 },
    signal,
    onProgress: (p) => {
      logProgress(p.received, p.total, p.bytesPerSecond);
      core.emit('download-progress', p);
      if (protocol.progress) protocol.progress(p.received, p.total);
    },
  }, running);
  const digest = release.digest ? await checkDigest(platform, target, release, release.digest) : '';
  // A download cut short by running out of memory resolves with nothing to show for it.
  if (core.memory.ranOut() || typeof sha256 !== 'string') throw outOfMemory('download', 'downloading into slot ' + target);
  const checked = await checkFormat(core, target, release);
  logger.log('INFO', 'Image verified: ' + (digest || 'SHA-256 ' + sha256 + (release.sha256 === null ? ' (computed; the server published none)' : '')) + checked);
  core.emit('verified', { version: release.version, sha256, slot: target });
  return sha256;
}

/**
 * Validates the image format before the switch: always when `image_format` says so; and, when
 * the server published no hash, an image that looks like an ESP32 one is checked by its own
 * appended SHA-256. Returns what was checked, for the log.
 */
async function checkFormat(core: UpdaterCore, slot: SlotName, release: SizedRelease): Promise<string> {
  const { platform } = core;
  const slots = platform.slots;
  const looksEsp32 = release.sha256 === null && !release.digest && (await slots.read(slot, 0, 1))[0] === ESP32_MAGIC;
  if (core.config.image_format === 'esp32' || looksEsp32) {
    await validateEsp32Image((offset, length) => slots.read(slot, offset, length), release.size, platform.sha256(), slots.readSize);
    return ', valid esp32 image';
  }
  if (release.sha256 === null && !release.digest) {
    platform.logger.log('WARNING', 'Release ' + release.version + ' comes with no checksum and is not an image that carries its own: installed on the strength of its size alone');
  }
  return '';
}

/** Downloaded and verified, but installing waits: the server is told (hawkBit's `downloaded`). */
async function deferred(core: UpdaterCore, release: Release, hold: Hold, at: RunState): Promise<CheckResult> {
  core.platform.logger.log('INFO', 'Update ' + release.version + ' is downloaded and verified; installing it waits: ' + hold.reason);
  await send(core, { stage: 'downloaded', version: release.version, from: at.running, reason: hold.reason });
  return planned(core, { status: 'deferred', version: at.running, latest: release.version, reason: hold.reason }, 'soon', hold.waitMs);
}

/** Marks the verified slot for a trial boot, reports, and returns the result the reboot follows. */
async function install(core: UpdaterCore, release: SizedRelease, sha256: string, at: RunState): Promise<CheckResult> {
  const { platform } = core;
  const target = at.target!;
  // Memory ran out on the way here, cutting short the download's own checks (Espruino goes on with
  // `undefined`): nothing is marked, before the boot state's copy (JSON.parse with memory out
  // trips the interpreter). Cut short itself, this ends the run with nothing, which is the same.
  if (core.memory.ranOut()) throw outOfMemory('install', 'slot ' + target + ' not marked');
  // A bundle is unpacked (a plain image clears an old bundle's directory) before the switch.
  if (platform.slots.prepare) await platform.slots.prepare(target, release.format);
  const image: SlotImage = { version: release.version, sha256, size: release.size };
  const bootId = platform.systemBootId ? platform.systemBootId() : null;
  if (bootId !== null) image.system_boot_id = bootId;
  at.boot = await saveBoot(core, markInstalled(at.boot!, target, image, core.config.boot_attempts));
  await discardJournal(platform.state);
  await discardStaged(platform, target);
  core.emit('installed', { version: release.version, slot: target });
  platform.logger.log('INFO', 'Update successful! ' + release.version + ' installed in slot ' + target + '; it boots on trial next');
  await send(core, { stage: 'installed', version: release.version, from: at.running });
  return rebootSoon({ slot: target, version: release.version, reason: 'update' }, at.running);
}

/** A failed check: logged, reported when a slot was being written, and the next try planned. */
async function failed(core: UpdaterCore, unmasked: OtaError, at: RunState): Promise<CheckResult> {
  const { logger } = core.platform;
  const error = maskedError(unmasked, core.mask);
  const untouched = at.boot ? 'the running firmware ' + at.running + ' (slot ' + at.boot.booted + ') is untouched' : 'nothing was changed';
  const delay = planNext(core, core.scheduler.reschedule(error.retryable ? 'retry' : 'done', error.retryAfterMs));
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
  if (at.target !== null) await send(core, { stage: 'failed', version: at.offered, from: at.running, reason: error.message, code: error.code });
  core.emit('error', error);
  return { status: 'failed', error, message };
}

/** Plans the next automatic check after a check (when the scheduler runs) and passes the result on. */
function planned<R extends CheckResult>(core: UpdaterCore, result: R, outcome: RunOutcome, hintMs?: number | null): R {
  const suggested = core.protocol.suggestedIntervalMs ? core.protocol.suggestedIntervalMs() : null;
  planNext(core, core.scheduler.reschedule(outcome, hintMs ?? suggested));
  return result;
}

/** Tells the protocol that an offered release is not installed (hawkBit closes its action). */
async function decline(core: UpdaterCore, release: Release, running: string): Promise<void> {
  if (!core.protocol.declined) return;
  try {
    await core.protocol.declined(release, running);
  } catch (e) {
    core.platform.logger.log('WARNING', 'Could not tell the server: ' + toOtaError(e, 'report').message);
  }
}

/** The result of an installed update; the Updater reboots into it once the caller has had it. */
function rebootSoon(request: RebootRequest, from: string): CheckResult {
  return { status: 'updated', version: request.version, from, slot: request.slot, rebooting: true };
}

/** The image running now, the base a delta patch must match; null when its hash is unknown. */
function runningImage(boot: BootState | null): RunningImage | null {
  const image = boot === null ? null : boot.slots[boot.booted];
  return boot !== null && image && image.sha256 !== '' ? { slot: boot.booted, sha256: image.sha256, size: image.size } : null;
}
