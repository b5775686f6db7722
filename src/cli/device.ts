/**
 * The simulated Node board behind `ota device`: two file slots and a boot state in a directory.
 * Starting the agent counts as a boot; the simulated reboot boots the new slot on trial, runs the
 * health check and confirms it or reverts.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';
import { describeBoot, initialBootState, type DeviceStatus } from '../boot/boot-state.js';
import { loadBootState, saveBootState } from '../boot/boot-store.js';
import { readConfigFile, type ConfigFile } from '../platform/node/config-file.js';
import { TRIGGER_STATUS, type TriggerStatus } from '../platform/node/mqtt-trigger.js';
import { toOtaError } from '../errors.js';
import { nodePlatform, platformOptions } from '../platform/node/platform.js';
import type { Platform } from '../platform/interfaces.js';
import { Updater, type CheckResult } from '../updater/updater.js';
import { hashSlot } from '../install/slots.js';
import { parseVersion } from '../check/version.js';
import { runHealthCheck } from './health-check.js';
import { progressBar } from './progress-bar.js';

/** A placeholder image for a simulated board created without `--file`. */
function syntheticImage(version: string): Buffer {
  const line = 'simulated firmware ' + version + '\n';
  return Buffer.from(line.repeat(Math.ceil(4096 / line.length)));
}

/** `ota device init`: slot a holds the image of `version` (confirmed), slot b is empty. */
export async function initDevice(stateDir: string, version: string, file?: string, force = false): Promise<DeviceStatus> {
  const v = parseVersion(version);
  if (v === null) throw new Error('--version ' + JSON.stringify(version) + ' is not a semantic version (e.g. 1.0.2)');
  const platform = nodePlatform({ stateDir });
  if (!force && (await platform.state.read('boot.json')) !== null) throw new Error(stateDir + ' already holds a device (use --force to start over)');
  const image = file ? await readFile(file) : syntheticImage(v);
  await mkdir(dirname(platform.slots.locate('a')), { recursive: true });
  await writeFile(platform.slots.locate('a'), image);
  await writeFile(platform.slots.locate('b'), Buffer.alloc(0));
  await platform.state.remove('download.json');
  const sha256 = createHash('sha256').update(image).digest('hex');
  const boot = await saveBootState(platform.state, platform.bootSelector, initialBootState({ version: v, sha256, size: image.length }, 3));
  return describeBoot(boot);
}

/**
 * `ota device status`: the boot state, with the SHA-256 of the running slot's actual content, and
 * the remote trigger's connection while an agent runs.
 */
export async function deviceStatus(stateDir: string): Promise<DeviceStatus & { intact: boolean; trigger?: TriggerStatus }> {
  const platform = nodePlatform({ stateDir });
  const boot = await loadBootState(platform.state);
  if (boot === null) throw new Error(stateDir + ' holds no device (create one with `ota device init`)');
  const status = describeBoot(boot);
  const image = boot.slots[boot.booted];
  const actual = await hashSlot(platform.slots, boot.booted, image ? image.size : 0, platform.sha256());
  return Object.assign(status, { sha256: actual, intact: image !== null && actual === image.sha256 }, await triggerStatus(platform.state));
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

/** Options of `ota device`. */
export interface RunDeviceOptions {
  config: string;
  stateDir?: string;
  once: boolean;
}

/** A simulated board's agent for one configuration. */
interface Agent {
  updater: Updater;
  platform: Platform;
  /** Resolves with the boot that follows the next reboot. */
  nextBoot(): Promise<DeviceStatus>;
}

function agent(file: ConfigFile, stateDir: string): Agent {
  const { config } = file;
  let onReboot: (boot: Promise<DeviceStatus>) => void = () => undefined;
  const platform: Platform = nodePlatform({
    ...platformOptions(config, stateDir),
    // A reboot of the simulated board runs its boot sequence in this process.
    reboot: async () => {
      const boot = bootDevice(updater, platform, config.health_command, config.health_timeout);
      onReboot(boot);
      await boot;
    },
  });
  for (const w of file.warnings) platform.logger.log('WARNING', w);
  const updater = new Updater({ config, platform });
  const bar = progressBar(process.stderr);
  updater.on('download-progress', (p) => {
    bar.update(p);
    if (p.received === p.total) bar.end();
  });
  updater.on('error', () => bar.end());
  return { updater, platform, nextBoot: () => new Promise<Promise<DeviceStatus>>((resolve) => (onReboot = resolve)).then((p) => p) };
}

/** `ota device`: runs the agent; with `once`, one check-and-update. Resolves to the exit code. */
export async function runDevice(options: RunDeviceOptions): Promise<number> {
  const file = readConfigFile(options.config);
  const stateDir = options.stateDir ?? file.stateDir;
  let a = agent(file, stateDir);
  if ((await loadBootState(a.platform.state)) === null) throw new Error(stateDir + ' holds no device (create one with `ota device init`)');
  await bootDevice(a.updater, a.platform, file.config.health_command, file.config.health_timeout);
  if (!options.once) return serveForever(options.config, stateDir, a);

  const rebooted = a.nextBoot();
  const result: CheckResult = await a.updater.checkForUpdates();
  switch (result.status) {
    case 'up-to-date':
      console.log('up to date: running ' + result.version + ' (latest on the server: ' + result.latest + ')');
      return 0;
    case 'no-firmware':
      console.log('no firmware published for this device; running ' + result.version);
      return 0;
    case 'deferred':
      console.log(result.latest + ' is downloaded and verified; installing it waits: ' + result.reason);
      return 0;
    case 'failed':
      console.error('ota device: update failed (' + result.error.code + '): ' + result.message);
      return 1;
    case 'updated': {
      const status = await rebooted;
      if (status.state === 'confirmed' && status.version === result.version) {
        console.log('updated ' + result.from + ' -> ' + result.version + ' (slot ' + status.slot + ', confirmed)');
        return 0;
      }
      console.error('ota device: ' + result.version + ' was installed but did not pass its trial boot (' + status.last_error + '); running ' + status.version + ' in slot ' + status.slot + ' again');
      return 1;
    }
  }
}

/**
 * The long-running agent: the scheduler and the remote trigger until SIGINT/SIGTERM. SIGHUP
 * reloads the configuration; an invalid one is logged and the last good one stays in force.
 */
async function serveForever(configPath: string, stateDir: string, first: Agent): Promise<number> {
  let current = first;
  current.updater.start();
  const reload = () => {
    let file: ConfigFile;
    try {
      file = readConfigFile(configPath);
    } catch (e) {
      current.platform.logger.log('ERROR', toOtaError(e, 'config').message + '; keeping the last good configuration');
      return;
    }
    current.updater.stop().then(() => {
      current = agent(file, stateDir);
      current.platform.logger.log('INFO', 'Configuration reloaded from ' + configPath);
      current.updater.start();
    });
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGHUP', reload);
  await current.updater.stop();
  return 0;
}
