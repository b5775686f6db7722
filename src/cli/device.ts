/**
 * `ota device …`: the agent of a device whose slots and state live in a directory (a simulated
 * board, or a Node board under `ota run`), and the operator's commands on it. Starting the agent
 * counts as a boot; the simulated reboot boots the new slot on trial, runs the health check and
 * confirms it or reverts.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describeBoot, initialBootState, type DeviceStatus } from '../boot/boot-state.js';
import { loadBootState, saveBootState } from '../boot/boot-store.js';
import { readConfigFile, type ConfigFile } from '../platform/node/config-file.js';
import { TRIGGER_STATUS, type TriggerStatus } from '../platform/node/mqtt-trigger.js';
import { toOtaError } from '../errors.js';
import { nodePlatform, platformOptions } from '../platform/node/platform.js';
import type { Platform, RebootRequest, Transport } from '../platform/interfaces.js';
import { Updater, type CheckResult } from '../updater/updater.js';
import { hashSlot } from '../install/slots.js';
import { lockAgent } from './lock-agent.js';
import { LOCK_FILE, runningAgent } from '../platform/node/state-lock.js';
import { packBundle } from '../platform/node/bundle.js';
import { parseVersion } from '../check/version.js';
import { cliError, guard } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { runHealthCheck } from './health-check.js';
import { progressBar } from './progress-bar.js';
import { offerAddress, oneOffProtocol, readOffer, type LocalOffer } from './local-release.js';
import { fileTransport } from '../platform/node/file-transport.js';
import { serviceNotifier } from '../platform/node/sd-notify.js';
import { compiledDecoding } from './jit.js';
import { deviceStatus as statusOf, type UpdaterStatus } from '../updater/status.js';
import { fsPromisesModule } from '../platform/node/lazy-modules.js';
import { fileState } from '../platform/node/file-state.js';

/** A placeholder image for a simulated board created without `--file`. */
function syntheticImage(version: string): Buffer {
  const line = 'simulated firmware ' + version + '\n';
  return Buffer.from(line.repeat(Math.ceil(4096 / line.length)));
}

/** `ota device init`: slot a holds the image of `version` (confirmed), slot b is empty. */
export async function initDevice(stateDir: string, version: string, file?: string, force = false, bundle?: string): Promise<DeviceStatus> {
  // Semver is normalised ("v1.0.2" -> "1.0.2"); other text is kept, as servers without semver compare it.
  if (version === '') throw cliError(EXIT.USAGE, '--version is empty; expected the running version, e.g. 1.0.2');
  const v = parseVersion(version) ?? version;
  const platform = nodePlatform({ stateDir });
  const existing = await guard(EXIT.STATE, 'cannot create the device in ' + stateDir, () => platform.state.read('boot.json'));
  if (!force && existing !== null) throw cliError(EXIT.STATE, stateDir + ' already holds a device (use --force to start over)');
  const { mkdir, readFile, rm, writeFile } = fsPromisesModule();
  const packed = bundle !== undefined ? join(stateDir, 'bundle.tar.tmp') : null;
  if (packed !== null) {
    await mkdir(stateDir, { recursive: true });
    await guard(EXIT.CONFIG, '--bundle', () => packBundle(bundle!, packed));
  }
  const image = packed !== null ? await readFile(packed) : file ? await readFile(file) : syntheticImage(v);
  return guard(EXIT.STATE, 'cannot create the device in ' + stateDir, async () => {
    // Old bundle directories go first, so that `locate` names the image files below.
    for (const slot of ['a', 'b'] as const) await platform.slots.prepare!(slot, undefined);
    await mkdir(dirname(platform.slots.locate('a')), { recursive: true });
    await writeFile(platform.slots.locate('a'), image);
    await writeFile(platform.slots.locate('b'), Buffer.alloc(0));
    if (packed !== null) {
      await rm(packed, { force: true });
      await platform.slots.prepare!('a', 'tar');
    }
    await platform.state.remove('download.json');
    const hasher = platform.sha256();
    hasher.update(image);
    const sha256 = hasher.digest();
    const boot = await saveBootState(platform.state, platform.bootSelector, initialBootState({ version: v, sha256, size: image.length }, 3));
    return describeBoot(boot);
  });
}

/**
 * `ota device init` from the command line: under the state directory's lock (--force would
 * otherwise start over beneath a running agent's slots and boot state). A failure (a usage error,
 * an unreadable --bundle) leaves no directory that the command made, the lock's included. The lock
 * is taken here, not in initDevice, which tests call in the process that holds their agents.
 */
export async function initDeviceLocked(stateDir: string, version: string, file?: string, force = false, bundle?: string): Promise<DeviceStatus> {
  let created: string | null = null;
  for (let d = resolve(stateDir); !existsSync(d); d = dirname(d)) created = d;
  await guard(EXIT.STATE, 'cannot create the device in ' + stateDir, () => lockAgent(stateDir));
  // Made meanwhile by another init that has finished since: not ours to remove.
  if (created !== null && readdirSync(stateDir).join() !== LOCK_FILE) created = null;
  try {
    return await initDevice(stateDir, version, file, force, bundle);
  } catch (e) {
    if (created !== null) rmSync(created, { recursive: true, force: true });
    throw e;
  }
}

/** Where the state directory comes from: `--state-dir`, else the configuration's `state_dir`. */
function stateDirOf(options: { stateDir?: string; config?: string }): string {
  if (options.stateDir !== undefined) return options.stateDir;
  if (options.config !== undefined) return readConfigFile(options.config).stateDir;
  throw cliError(EXIT.USAGE, 'give --state-dir <dir> or --config <default.cfg>');
}

function noDevice(stateDir: string): Error {
  return cliError(EXIT.STATE, stateDir + ' holds no device (create one with `ota device init`, or give the right --state-dir)');
}

/**
 * `ota device status`: the updater's status (boot state, last and next check, last error, partial
 * download), the SHA-256 of the running slot's actual content, and the agent's pid if one runs.
 */
export async function deviceStatus(options: { stateDir?: string; config?: string }): Promise<UpdaterStatus & { intact: boolean; agent: number | null }> {
  const stateDir = stateDirOf(options);
  const platform = nodePlatform({ stateDir });
  const boot = await guard(EXIT.STATE, 'cannot read the device in ' + stateDir, () => loadBootState(platform.state));
  if (boot === null) throw noDevice(stateDir);
  const status = await guard(EXIT.STATE, 'cannot read the state of ' + stateDir, () => statusOf(platform.state, boot));
  const image = boot.slots[boot.booted];
  const actual = await guard(EXIT.STATE, 'cannot read slot ' + boot.booted, () => hashSlot(platform.slots, boot.booted, image ? image.size : 0, platform.sha256()));
  return Object.assign(status, { sha256: actual, intact: image !== null && actual === image.sha256, agent: runningAgent(stateDir) }, await triggerStatus(platform.state));
}

/** The trigger's state as its agent recorded it; nothing when none runs (or the record is unreadable). */
async function triggerStatus(state: Platform['state']): Promise<{ trigger?: TriggerStatus }> {
  try {
    const text = await state.read(TRIGGER_STATUS);
    return text === null ? {} : { trigger: JSON.parse(text) as TriggerStatus };
  } catch {
    return {};
  }
}

/** The boot sequence of the simulated board: boot step, then health check of a trial slot. */
async function bootDevice(updater: Updater, platform: Platform, healthCommand: string, healthTimeout: number): Promise<DeviceStatus> {
  const status = await updater.boot();
  if (status.state !== 'trial') return status;
  platform.logger.log('INFO', 'Booted slot ' + status.slot + ' (' + status.version + ') on trial; running the health check');
  const verdict = await runHealthCheck(healthCommand, { OTA_SLOT_PATH: platform.slots.locate(status.slot), OTA_VERSION: status.version }, healthTimeout);
  if (verdict.ok) await updater.confirm();
  else await updater.revert(verdict.reason); // reboots into the previous slot, through bootDevice again
  return updater.status();
}

/** What every device command is given. */
interface DeviceOptions {
  config: string;
  stateDir?: string;
  json?: boolean;
  verbose?: boolean;
}

/** Options of `ota device`. */
export interface RunDeviceOptions extends DeviceOptions {
  once: boolean;
}

/** A simulated board's agent for one configuration. */
interface Agent {
  updater: Updater;
  platform: Platform;
  /** Resolves with the boot that follows the next reboot. */
  nextBoot(): Promise<DeviceStatus>;
}

/**
 * The agent of one configuration. With `source`, its only release is the one `source` makes (from
 * a file or URL: `ota device install`), `file://` URLs are read from disk, and a refused connection
 * names `source.address`.
 */
async function agent(file: ConfigFile, stateDir: string, verbose: boolean, source?: { read: (transport: Transport) => Promise<LocalOffer>; address: string }): Promise<Agent> {
  const { config } = file;
  let onReboot: (boot: Promise<DeviceStatus>) => void = () => undefined;
  const platform: Platform = nodePlatform({
    ...platformOptions(config, stateDir),
    ...(verbose ? { logLevel: 'DEBUG' as const } : {}),
    ...(source ? { addressSetting: source.address } : {}),
    // A reboot of the simulated board runs its boot sequence in this process.
    reboot: async () => {
      const boot = bootDevice(updater, platform, config.health_command, config.health_timeout);
      onReboot(boot);
      await boot;
    },
  });
  for (const w of file.warnings) platform.logger.log('WARNING', w);
  platform.logger.log('DEBUG', 'Configuration ' + file.path + ', state directory ' + stateDir + ', protocol ' + config.protocol + ' at ' + config.ota_domain);
  if (source) platform.transport = fileTransport(platform.transport);
  platform.transfers = compiledDecoding(platform.transfers);
  const updater = new Updater({ config, platform, protocol: source ? oneOffProtocol(await source.read(platform.transport), config, platform) : undefined });
  const bar = progressBar(process.stderr);
  updater.on('download-progress', (p) => {
    bar.update(p);
    if (p.received === p.total) bar.end();
  });
  updater.on('error', () => bar.end());
  return { updater, platform, nextBoot: () => new Promise<Promise<DeviceStatus>>((resolve) => (onReboot = resolve)).then((p) => p) };
}

/** Reads the configuration and checks that the state directory holds a device. */
async function open(options: DeviceOptions): Promise<{ file: ConfigFile; stateDir: string }> {
  const file = readConfigFile(options.config);
  const stateDir = options.stateDir ?? file.stateDir;
  // Only the boot state is read here: the state store alone, not a whole platform.
  const boot = await guard(EXIT.STATE, 'cannot read the device in ' + stateDir, () => loadBootState(fileState(stateDir)));
  if (boot === null) throw noDevice(stateDir);
  return { file, stateDir };
}

/** Prints a one-off result: as JSON with `--json`, else the sentence for people. */
function report(json: boolean | undefined, answer: object, sentence: string, error = false): void {
  if (json) console.log(JSON.stringify(answer));
  else if (error) console.error('ota device: ' + sentence);
  else console.log(sentence);
}

/** Prints a check-and-update result and returns its exit code. */
async function finish(result: CheckResult, rebooted: Promise<DeviceStatus>, json?: boolean): Promise<number> {
  switch (result.status) {
    case 'up-to-date':
      report(json, result, 'up to date: running ' + result.version + ' (latest on the server: ' + result.latest + ')');
      return EXIT.OK;
    case 'no-firmware':
      report(json, result, 'no firmware published for this device; running ' + result.version, true);
      return EXIT.NOT_FOUND;
    case 'deferred':
      report(json, result, result.latest + ' is downloaded and verified; installing it waits: ' + result.reason);
      return EXIT.OK;
    case 'failed': {
      const answer = { status: 'failed', code: result.error.code, message: result.message };
      report(json, answer, 'update failed (' + result.error.code + '): ' + result.message, true);
      return result.error.code === 'CONFIG_INVALID' ? EXIT.CONFIG : EXIT.FAILED;
    }
    case 'updated': {
      const status = await rebooted;
      if (status.state === 'confirmed' && status.version === result.version) {
        report(json, Object.assign({}, result, { rebooting: false, state: status.state }), 'updated ' + result.from + ' -> ' + result.version + ' (slot ' + status.slot + ', confirmed)');
        return EXIT.OK;
      }
      const answer = { status: 'reverted', version: status.version, tried: result.version, slot: status.slot, last_error: status.last_error };
      report(json, answer, result.version + ' was installed but did not pass its trial boot (' + status.last_error + '); running ' + status.version + ' in slot ' + status.slot + ' again', true);
      return EXIT.REVERTED;
    }
  }
}

/** `ota device`: runs the agent; with `once`, one check-and-update. Resolves to the exit code. */
export async function runDevice(options: RunDeviceOptions): Promise<number> {
  const { file, stateDir } = await open(options);
  lockAgent(stateDir); // held until the process ends
  const a = await agent(file, stateDir, options.verbose === true);
  await bootDevice(a.updater, a.platform, file.config.health_command, file.config.health_timeout);
  if (!options.once) return serveForever(options, stateDir, a);
  const rebooted = a.nextBoot();
  return finish(await stoppable(a.updater, () => a.updater.checkForUpdates()), rebooted, options.json);
}

/**
 * A one-off check that SIGINT/SIGTERM stop as they stop the long-running agent: the download ends
 * at a chunk boundary, its journal kept for the next start, and the process exits at once.
 */
async function stoppable(updater: Updater, check: () => Promise<CheckResult>): Promise<CheckResult> {
  const stop = () => void updater.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await check();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/**
 * The long-running agent: the scheduler and the remote trigger until SIGINT/SIGTERM. SIGHUP
 * reloads the configuration; an invalid one is logged and the last good one stays in force.
 */
async function serveForever(options: RunDeviceOptions, stateDir: string, first: Agent): Promise<number> {
  let current = first;
  const notify = serviceNotifier(current.platform.logger);
  current.updater.start();
  const running = await current.updater.status();
  notify.ready('Running ' + running.version + ' (slot ' + running.slot + '); ' + (options.verbose ? 'verbose; ' : '') + 'waiting for checks and update requests');
  const reload = () => {
    let file: ConfigFile;
    try {
      file = readConfigFile(options.config);
    } catch (e) {
      current.platform.logger.log('ERROR', toOtaError(e, 'config').message + '; keeping the last good configuration');
      return;
    }
    current.updater
      .stop()
      .then(() => agent(file, stateDir, options.verbose === true))
      .then((next) => {
        current = next;
        current.platform.logger.log('INFO', 'Configuration reloaded from ' + options.config);
        current.updater.start();
      });
  };
  process.on('SIGHUP', reload);
  // Pending promises do not keep Node alive: with nothing scheduled (auto_update off, no MQTT)
  // the process would exit at once. This timer keeps the agent up until it is signalled.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  notify.stopping();
  process.off('SIGHUP', reload);
  await current.updater.stop();
  return EXIT.OK;
}

/**
 * `ota device check`: what a check would install now, with nothing downloaded or written. Exits
 * UPDATE_AVAILABLE when something would be installed (as `yum check-update` exits 100).
 */
export async function checkDevice(options: DeviceOptions): Promise<number> {
  const { file, stateDir } = await open(options);
  const platform = nodePlatform({ ...platformOptions(file.config, stateDir), ...(options.verbose ? { logLevel: 'DEBUG' as const } : {}) });
  const p = await new Updater({ config: file.config, platform }).check();
  const running = p.version;
  if (p.offered === null || p.decision === null) {
    const where = p.url ? ' at ' + p.url + ' (HTTP 404)' : '';
    report(options.json, { status: 'no-firmware', version: running, url: p.url ?? null }, 'no firmware published for this device' + where + ': check "device_id" and "ota_domain" in ' + file.path + ', or publish a release for this device', true);
    return EXIT.NOT_FOUND;
  }
  const o = p.offered;
  const d = p.decision;
  const answer = { status: d.kind === 'install' ? 'update-available' : d.kind, version: running, latest: o.version, size: o.size, sha256: o.sha256, hold: d.kind === 'install' && d.hold ? d.hold.reason : null };
  if (d.kind === 'up-to-date') {
    report(options.json, answer, 'up to date: running ' + running + ' (latest on the server: ' + o.version + ')');
    return EXIT.OK;
  }
  if (d.kind === 'install' || d.kind === 'reboot-pending') {
    const sentence =
      d.kind === 'reboot-pending'
        ? o.version + ' is installed and boots on trial at the next restart'
        : running + ' -> ' + o.version + ' would be installed' + (o.size === null ? '' : ' (' + o.size + ' bytes)') + (d.downgrade ? ', a signed downgrade' : '') + (d.hold ? '; installing would wait: ' + d.hold.reason : '');
    report(options.json, answer, sentence);
    return EXIT.UPDATE_AVAILABLE;
  }
  const why = d.kind === 'rejected' ? 'it failed its trial on this device before' : 'it is older than the running ' + running + ' and not a signed downgrade this device allows';
  report(options.json, answer, o.version + ' is offered but would not be installed: ' + why, true);
  return EXIT.FAILED;
}

/** Options of `ota device install`. */
export interface InstallOptions extends DeviceOptions {
  /** A manifest or an image: a path or an http(s) URL. */
  source: string;
  /** The version of a bare image. */
  version?: string;
}

/**
 * `ota device install FILE|URL`: installs one release through the updater's own pipeline (trust,
 * version rules, download, verification, slot, trial boot), without asking the update server.
 */
export async function installOnDevice(options: InstallOptions): Promise<number> {
  const { file, stateDir } = await open(options);
  lockAgent(stateDir); // writes a slot and the boot state, as the agent does: never beside it
  const a = await agent(file, stateDir, options.verbose === true, { read: (transport) => readOffer(options.source, options.version, transport), address: offerAddress(options.source) });
  const rebooted = a.nextBoot();
  return finish(await stoppable(a.updater, () => a.updater.checkForUpdates({ force: true })), rebooted, options.json);
}

/** Options of `ota device mark-good | mark-bad | rollback`. */
export interface MarkOptions extends DeviceOptions {
  action: 'mark-good' | 'mark-bad' | 'rollback';
  reason?: string;
}

/**
 * `ota device mark-good | mark-bad | rollback`: the operator decides a trial (or goes back). The
 * reboot that follows a rejection is the configured `reboot_command`; without one, the command
 * exits with the REBOOT code and the operator (or supervisor) restarts the agent.
 */
export async function markDevice(options: MarkOptions): Promise<number> {
  const { file, stateDir } = await open(options);
  lockAgent(stateDir); // a running agent may be writing the boot state: stop it first
  let reboot: RebootRequest | null = null;
  const configured = file.config.reboot_command !== '';
  const platform = nodePlatform({
    ...platformOptions(file.config, stateDir),
    reboot: configured
      ? undefined
      : async (r) => {
          reboot = r;
        },
  });
  const updater = new Updater({ config: file.config, platform });
  const before = await updater.status();
  const reason = options.reason ?? 'by the operator';
  if (options.action === 'rollback') {
    await updater.rollBack('rolled back ' + reason);
  } else if (before.state !== 'trial') {
    const hint = options.action === 'mark-bad' ? ' (`ota device rollback` goes back from a confirmed version)' : '';
    throw cliError(EXIT.FAILED, 'nothing to ' + (options.action === 'mark-good' ? 'confirm' : 'mark bad') + ': slot ' + before.slot + ' (' + before.version + ') is ' + before.state + ', not on trial' + hint);
  } else if (options.action === 'mark-good') {
    await updater.confirm();
  } else {
    await updater.revert('marked bad ' + reason);
  }
  const after = await updater.status();
  const due = reboot as RebootRequest | null;
  const sentence =
    options.action === 'mark-good'
      ? 'slot ' + after.slot + ' (' + after.version + ') confirmed'
      : 'slot ' + before.slot + ' (' + before.version + ') rejected; ' + (due ? 'restart the agent to boot slot ' + due.slot + ' (' + due.version + ')' : 'rebooting');
  report(options.json, Object.assign({ action: options.action, reboot: due }, after), sentence);
  return due ? EXIT.REBOOT : EXIT.OK;
}
